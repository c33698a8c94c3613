"""Tests of the closed-world review: every fact of a draft traced to the record, every required fact present.

The template writer's draft of a record is the faithful baseline (the review must trace all of it and
flag nothing); each test edits it the way a model or a tired clinician would and checks that the
review reports that edit, where it stands, with the record field it contradicts.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from importlib import resources
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clinical.checks import CheckReport, check_draft
from clinical.checks.mutations import KINDS, mutations
from clinical.record import HospitalStay
from clinical.writer import render_epicrisis
from tests.support.strategies import hospital_stays
from training.data.narratives import reference_epicrisis

TODAY = dt.date(2026, 11, 21)
EXAMPLES = sorted(p.name for p in resources.files("clinical").joinpath("examples").iterdir() if p.name.endswith(".json"))


def _example(name: str) -> dict[str, Any]:
    return json.loads(resources.files("clinical").joinpath(f"examples/{name}").read_text(encoding="utf-8"))


def _stay(data: dict[str, Any]) -> HospitalStay:
    return HospitalStay.model_validate(data, context={"today": TODAY})


@pytest.fixture(scope="module")
def stay() -> HospitalStay:
    return _stay(_example("neumonia_chile.json"))


@pytest.fixture(scope="module")
def draft(stay: HospitalStay) -> str:
    return render_epicrisis(stay)


def codes(report: CheckReport) -> list[str]:
    return [f.code for f in report.findings]


def only(report: CheckReport) -> tuple[str, str, str | None]:
    assert len(report.findings) == 1, report.findings
    f = report.findings[0]
    return f.code, f.text, f.field


# --- the faithful baseline ----------------------------------------------------------------------


@pytest.mark.parametrize("name", EXAMPLES)
def test_template_drafts_are_traced_whole_and_flag_nothing(name: str) -> None:
    stay = _stay(_example(name))
    report = check_draft(stay, render_epicrisis(stay))
    assert report.ok, report.findings
    assert report.attributed_share == 1.0 and len(report.facts) > 20
    as_dict = json.loads(json.dumps(report.to_dict()))
    assert as_dict["ok"] is True and as_dict["reviewed"] is True and as_dict["findings"] == []


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(hospital_stays(), st.integers(0, 2**32))
def test_no_false_alarm_on_template_or_varied_faithful_narratives(stay: HospitalStay, seed: int) -> None:
    assert check_draft(stay, render_epicrisis(stay)).findings == ()
    assert check_draft(stay, reference_epicrisis(stay, random.Random(seed))).findings == ()


def test_facts_point_at_their_record_fields(stay: HospitalStay, draft: str) -> None:
    report = check_draft(stay, draft)
    by_text = {draft[f.start:f.end]: f.field for f in report.facts}
    assert by_text["María Elena Soto Pérez"] == "patient.name"
    assert by_text["7.654.321-6"] == "patient.identifiers[0].value"
    assert by_text["J18.9"] == "diagnoses[0].code"
    assert by_text["750 mg"] == "discharge_medications[0].dose"
    assert by_text["cada 24 horas"] in ("inpatient_medications[0].frequency", "discharge_medications[0].frequency")
    assert by_text["29 de enero de 2026"] == "follow_ups[0].date"


# --- each kind of error, where it stands ------------------------------------------------------------


@pytest.mark.parametrize(("old", "new", "code", "field"), [
    ("Nombre: María Elena Soto Pérez", "Nombre: Claudia Ibáñez Poblete", "wrong_name", "patient.name"),
    ("Sexo: femenino", "Sexo: masculino", "wrong_sex", "patient.sex"),
    ("La paciente, ingresada", "El paciente, ingresado", "sex_agreement", "patient.sex"),
    ("Edad: 72 años", "Edad: 66 años", "wrong_age", "patient.age_at_admission"),
    ("RUT: 7.654.321-6", "RUT: 10.633.266-3", "unknown_identifier", "patient.identifiers"),
    ("Metformina 850 mg", "Metformina 5000 mg", "wrong_dose", "discharge_medications[1].dose"),
    ("Metformina 850 mg vía oral cada 12 horas", "Metformina 850 mg vía oral cada 8 horas", "wrong_frequency",
     "discharge_medications[1].frequency"),
    ("cada 24 horas por 2 días", "cada 24 horas por 7 días", "wrong_duration", "discharge_medications[0].duration"),
    ("Losartán 50 mg vía oral", "Losartán 50 mg vía intravenosa", "wrong_route", "discharge_medications[2].route"),
    ("(CIE-10: E11.9)", "(CIE-10: E10.9)", "unknown_code", "diagnoses"),
    ("(CIE-10: E11.9)", "(CIE-10: I10)", "code_mismatch", "diagnoses[1].code"),
    ("Estadía: 5 días", "Estadía: 7 días", "wrong_stay_length", "length_of_stay_days"),
    ("Condición al egreso: mejorada", "Condición al egreso: empeorada", "wrong_condition", "discharge.condition"),
    ("Destino al egreso: domicilio", "Destino al egreso: traslado a otro centro", "wrong_destination",
     "discharge.destination"),
    ("Creatinina 0,9 mg/dL", "Creatinina 1,9 mg/dL", "wrong_lab_value", "labs[3].value"),
    ("FC 104 lpm", "FC 140 lpm", "wrong_vital_sign", "vital_signs"),
    ("Medicina Interna: 29 de enero de 2026", "Medicina Interna: 30 de enero de 2026", "wrong_follow_up",
     "follow_ups[0].date"),
    ("Fecha de ingreso: 10 de enero de 2026", "Fecha de ingreso: 11 de enero de 2026", "wrong_date",
     "admission.admitted_at"),
    ("Alergia a penicilina (exantema).", "No refiere alergias.", "allergy_contradicted", "allergies"),
])
def test_an_edited_fact_is_reported_at_its_span(stay: HospitalStay, draft: str, old: str, new: str,
                                                code: str, field: str) -> None:
    assert old in draft
    edited = draft.replace(old, new, 1)
    report = check_draft(stay, edited)
    found = [f for f in report.findings if f.code == code]
    assert found, report.findings
    assert found[0].field == field and found[0].message
    if found[0].start is not None:
        assert edited[found[0].start:found[0].end] == found[0].text
        assert new.find(found[0].text) >= 0 or found[0].text in edited


def test_an_impossible_date_is_never_a_date(stay: HospitalStay, draft: str) -> None:
    edited = draft.replace("Control radiológico: 20 de febrero de 2026", "Control radiológico: 31 de noviembre de 2026")
    assert "impossible_date" in codes(check_draft(stay, edited))


def test_added_and_dropped_items_are_reported_by_section(stay: HospitalStay, draft: str) -> None:
    added = draft.replace("3. Hipertensión arterial esencial (CIE-10: I10)",
                          "3. Hipertensión arterial esencial (CIE-10: I10)\n4. Insuficiencia cardíaca")
    assert only(check_draft(stay, added)) == ("unknown_diagnosis", "Insuficiencia cardíaca", "diagnoses")
    dropped = draft.replace("3. Losartán 50 mg vía oral cada 12 horas.\n", "")
    assert only(check_draft(stay, dropped)) == ("missing_discharge_medication", "Losartán", "discharge_medications[2]")
    inpatient = draft.replace("2. Insulina cristalina 4 UI vía subcutánea según esquema.\n", "")
    assert codes(check_draft(stay, inpatient)) == ["missing_inpatient_medication"]
    drug = draft.replace("3. Losartán 50 mg vía oral cada 12 horas.",
                         "3. Losartán 50 mg vía oral cada 12 horas.\n4. Warfarina 5 mg vía oral una vez al día.")
    assert only(check_draft(stay, drug))[0] == "unknown_medication"
    # a diagnosis named in the evolution that the record never mentions
    prose = draft.replace("Hemocultivos negativos.", "Hemocultivos negativos. Se pesquisa fibrilación auricular.")
    assert [f.text for f in check_draft(stay, prose).findings] == ["fibrilación auricular"]


def test_a_discharge_drug_written_only_in_the_evolution_is_missing_from_its_section(stay, draft) -> None:
    moved = draft.replace("3. Losartán 50 mg vía oral cada 12 horas.\n", "").replace(
        "Glicemias controladas", "Se indica losartán 50 mg vía oral. Glicemias controladas")
    assert "missing_discharge_medication" in codes(check_draft(stay, moved))


def test_a_wrong_identity_draft_is_reported_whole(stay: HospitalStay, draft: str) -> None:
    other = draft.replace("María Elena Soto Pérez", "Claudia Ibáñez Poblete").replace("Edad: 72", "Edad: 66") \
        .replace("Sexo: femenino", "Sexo: masculino").replace("7.654.321-6", "10.633.266-3")
    found = set(codes(check_draft(stay, other)))
    assert {"wrong_name", "wrong_age", "wrong_sex", "unknown_identifier"} <= found
    nameless = draft.replace("Nombre: María Elena Soto Pérez\n", "")
    assert "missing_identity" in codes(check_draft(stay, nameless))


def test_combination_products_and_per_kg_doses_are_checked_per_drug() -> None:
    stay = _stay(_example("neumonia_pediatrica_chile.json"))
    draft = render_epicrisis(stay)
    assert "400/57 mg" in draft and "15 mg/kg (247,5 mg)" in draft
    assert codes(check_draft(stay, draft.replace("400/57 mg", "875/125 mg"))) == ["wrong_dose"]
    assert "wrong_dose" in codes(check_draft(stay, draft.replace("(247,5 mg)", "(400 mg)", 1)))


def test_record_text_copied_verbatim_is_traced_to_its_field(stay: HospitalStay, draft: str) -> None:
    report = check_draft(stay, draft)
    at = draft.index("88% ambiental")
    assert any(f.start == at and f.field == "admission.reason" for f in report.facts)
    edited = draft.replace("saturación de 88% ambiental", "saturación de 80% ambiental")
    assert codes(check_draft(stay, edited)) in (["unknown_number"], ["wrong_vital_sign"])


# --- the mutation benchmark's generator, in small ---------------------------------------------------


def test_every_mutation_kind_is_caught_on_the_examples() -> None:
    rng = random.Random(7)
    seen: dict[str, int] = {}
    for name in EXAMPLES:
        stay = _stay(_example(name))
        for mutation in mutations(stay, render_epicrisis(stay), rng):
            seen[mutation.kind] = seen.get(mutation.kind, 0) + 1
            assert not check_draft(stay, mutation.text).ok, (name, mutation.kind)
    assert len(KINDS) >= 15 and len(seen) >= 15
