"""Tests for the deterministic epicrisis writer (clinical.writer)."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from clinical.checks import check_draft
from clinical.record import HospitalStay
from clinical.writer import (
    SECTION_KEYS,
    TEMPLATE_VERSION,
    Section,
    render_epicrisis,
    render_sections,
)
from clinical.writer.spanish import SECTION_TITLES, WRITTEN_DATE, format_date, format_dose
from tests.support.strategies import hospital_stays

EXAMPLE = Path(__file__).resolve().parents[2] / "clinical" / "examples" / "neumonia_chile.json"
CONTEXT = {"today": dt.date(2026, 11, 21)}
ALL_TITLES = set(SECTION_TITLES.values())


def example_dict() -> dict[str, Any]:
    return json.loads(EXAMPLE.read_text(encoding="utf-8"))


def stay_from(data: dict[str, Any]) -> HospitalStay:
    return HospitalStay.model_validate(data, context=CONTEXT)


@pytest.fixture
def example() -> HospitalStay:
    return stay_from(example_dict())


def variant(**changes: Any) -> HospitalStay:
    """The example record with fields replaced (``patient__sex="M"`` reaches into dicts), re-validated."""
    data = copy.deepcopy(example_dict())
    for dotted, value in changes.items():
        *path, last = dotted.split("__")
        target = data
        for part in path:
            target = target[part]
        target[last] = value
    return stay_from(data)


def deceased(**changes: Any) -> HospitalStay:
    """The example patient dying on 14 January: no discharge plan, last vitals that morning."""
    vitals = example_dict()["vital_signs"]
    vitals[1]["taken_at"] = "2026-01-14T06:00:00"
    return variant(
        discharge={
            "discharged_on": "2026-01-14",
            "condition": "fallecido",
            "destination": "anatomía patológica",
        },
        discharge_medications=[],
        follow_ups=[],
        vital_signs=vitals,
        **changes,
    )


def section(stay: HospitalStay, key: str) -> str:
    return next(s.body for s in render_sections(stay) if s.key == key)


def keys(stay: HospitalStay) -> list[str]:
    return [s.key for s in render_sections(stay)]


def parse_blocks(text: str) -> list[tuple[str, list[str]]]:
    """The rendering split back into (heading, body lines): the plain-text layout contract."""
    assert text.endswith("\n") and not text.endswith("\n\n")
    blocks = []
    for block in text[:-1].split("\n\n"):
        title, *body = block.split("\n")
        blocks.append((title, body))
    return blocks


# --- the example record ---------------------------------------------------------------------


def test_example_has_every_section_in_order(example: HospitalStay) -> None:
    assert keys(example) == list(SECTION_KEYS)
    text = render_epicrisis(example)
    titles = [title for title, _ in parse_blocks(text)]
    assert titles == [
        "IDENTIFICACIÓN",
        "MOTIVO DE INGRESO",
        "ANTECEDENTES",
        "DIAGNÓSTICOS DE EGRESO",
        "PROCEDIMIENTOS",
        "EVOLUCIÓN",
        "EXÁMENES RELEVANTES",
        "TRATAMIENTO DURANTE LA HOSPITALIZACIÓN",
        "TRATAMIENTO AL ALTA",
        "INDICACIONES",
        "CONTROLES",
    ]


def test_render_epicrisis_joins_sections(example: HospitalStay) -> None:
    sections = render_sections(example)
    assert all(isinstance(s, Section) and s.body.strip() for s in sections)
    assert render_epicrisis(example) == "\n\n".join(f"{s.title}\n{s.body}" for s in sections) + "\n"


def test_example_identification(example: HospitalStay) -> None:
    body = section(example, "identificacion")
    for line in [
        "Nombre: María Elena Soto Pérez",
        "Edad: 72 años",
        "Sexo: femenino",
        "RUT: 7.654.321-6",
        "N.º de ficha clínica: 458812",
        "Servicio: Medicina Interna",
        "Fecha de ingreso: 10 de enero de 2026",
        "Fecha de egreso: 15 de enero de 2026",
        "Estadía: 5 días",
        "Condición al egreso: mejorada",
        "Destino al egreso: domicilio",
    ]:
        assert line in body.splitlines()


def test_example_diagnoses_principal_first_with_codes(example: HospitalStay) -> None:
    assert section(example, "diagnosticos").splitlines() == [
        "1. Neumonía adquirida en la comunidad (CIE-10: J18.9)",
        "2. Diabetes mellitus tipo 2 (CIE-10: E11.9)",
        "3. Hipertensión arterial esencial (CIE-10: I10)",
    ]


def test_principal_is_first_even_when_listed_last() -> None:
    data = example_dict()
    data["diagnoses"] = list(reversed(data["diagnoses"]))
    lines = section(stay_from(data), "diagnosticos").splitlines()
    assert lines[0] == "1. Neumonía adquirida en la comunidad (CIE-10: J18.9)"
    assert lines[1].startswith("2. Hipertensión arterial esencial")


def test_example_procedures_with_dates_and_plural(example: HospitalStay) -> None:
    body = section(example, "procedimientos")
    assert body.startswith("Durante la hospitalización se realizaron 2 procedimientos:")
    assert "- 10 de enero de 2026: Radiografía de tórax (código 0401070)" in body
    assert "- 11 de enero de 2026: Hemocultivos" in body


def test_single_procedure_is_singular() -> None:
    stay = variant(procedures=[{"performed_on": "2026-01-10", "description": "Radiografía de tórax"}])
    assert section(stay, "procedimientos").startswith(
        "Durante la hospitalización se realizó 1 procedimiento:"
    )


def test_example_medications(example: HospitalStay) -> None:
    assert section(example, "tratamiento_alta").splitlines() == [
        "1. Levofloxacino 750 mg vía oral cada 24 horas por 2 días.",
        "2. Metformina 850 mg vía oral cada 12 horas.",
        "3. Losartán 50 mg vía oral cada 12 horas.",
    ]


def test_decimal_dose_uses_decimal_comma() -> None:
    data = example_dict()
    data["discharge_medications"][0].update(name="Clonazepam", dose="0.5", unit="mg")
    assert "1. Clonazepam 0,5 mg vía oral" in section(stay_from(data), "tratamiento_alta")


def test_example_antecedents_allergy(example: HospitalStay) -> None:
    body = section(example, "antecedentes")
    assert body.splitlines() == [
        "Mórbidos:",
        "- Hipertensión arterial en tratamiento con losartán",
        "- Diabetes mellitus tipo 2",
        "Quirúrgicos:",
        "- Colecistectomía laparoscópica (2015)",
        "Alergia a penicilina (exantema).",
    ]


def test_several_allergies_use_e_before_i() -> None:
    stay = variant(
        allergies=[{"substance": "Penicilina", "reaction": "exantema"}, {"substance": "Ibuprofeno"}]
    )
    assert "Alergia a penicilina (exantema) e ibuprofeno." in section(stay, "antecedentes")


def test_no_known_allergies_vs_not_recorded() -> None:
    assert section(variant(allergies=[]), "antecedentes").endswith("No refiere alergias conocidas.")
    not_recorded = section(variant(allergies=None), "antecedentes")
    assert "lergia" not in not_recorded
    assert not_recorded.endswith("- Colecistectomía laparoscópica (2015)")


def test_antecedents_omitted_when_nothing_recorded() -> None:
    stay = variant(allergies=None, medical_history=[], surgical_history=[])
    assert "antecedentes" not in keys(stay)
    assert "ANTECEDENTES" not in render_epicrisis(stay)


def test_example_evolution_keeps_text_and_adds_stay_sentence(example: HospitalStay) -> None:
    body = section(example, "evolucion")
    assert body.startswith(example.evolution)
    assert body.splitlines()[-1] == (
        "La paciente, ingresada el 10 de enero de 2026 desde urgencia, egresa mejorada "
        "el 15 de enero de 2026 a su domicilio, tras una estadía de 5 días."
    )


def test_example_labs_and_vitals(example: HospitalStay) -> None:
    body = section(example, "examenes")
    assert (
        "- 10 de enero de 2026: Proteína C reactiva 186 mg/L (alterado); Leucocitos 15.800/mm³ (alterado); "
        "Creatinina 0,9 mg/dL." in body
    )
    assert "- 14 de enero de 2026: Proteína C reactiva 24 mg/L (alterado)." in body
    assert "Creatinina 0,9 mg/dL (alterado)" not in body
    assert (
        "Signos vitales al ingreso (10 de enero de 2026): "
        "PA 142/84 mmHg, FC 104 lpm, FR 24 rpm, T° 38,6 °C, SatO2 88%." in body
    )
    assert "Signos vitales al egreso (15 de enero de 2026): PA 128/76 mmHg" in body


def test_example_follow_ups(example: HospitalStay) -> None:
    assert section(example, "controles").splitlines() == [
        "- Medicina Interna: 29 de enero de 2026, en Policlínico de Medicina, CESFAM Los Aromos.",
        "- Control radiológico: 20 de febrero de 2026. Radiografía de tórax de control.",
    ]


def test_example_writes_only_dates_from_the_record(example: HospitalStay) -> None:
    written = {m.group(0) for m in WRITTEN_DATE.finditer(render_epicrisis(example))}
    assert written == {format_date(d) for d in _record_dates(example)}


# --- gender agreement -------------------------------------------------------------------------


def test_male_agreement() -> None:
    stay = variant(patient__sex="M")
    assert "Sexo: masculino" in section(stay, "identificacion")
    assert "Condición al egreso: mejorado" in section(stay, "identificacion")
    assert (
        section(stay, "evolucion")
        .splitlines()[-1]
        .startswith("El paciente, ingresado el 10 de enero de 2026")
    )
    assert "egresa mejorado el 15 de enero de 2026" in section(stay, "evolucion")
    assert "paciente, ingresada" not in render_epicrisis(stay)


def test_female_agreement(example: HospitalStay) -> None:
    text = render_epicrisis(example)
    assert "La paciente, ingresada" in text and "egresa mejorada" in text
    assert "ingresado" not in text and "mejorado" not in text


def test_neutral_wording_for_x() -> None:
    stay = variant(patient__sex="X")
    text = render_epicrisis(stay)
    assert "Sexo: X" in text
    assert "Condición al egreso: mejoría clínica" in text
    assert section(stay, "evolucion").splitlines()[-1] == (
        "Ingresa el 10 de enero de 2026 desde urgencia y egresa con mejoría clínica "
        "el 15 de enero de 2026 a su domicilio, tras una estadía de 5 días."
    )
    for gendered in (
        "el paciente",
        "la paciente",
        "El paciente",
        "La paciente",
        "ingresado",
        "ingresada",
        "mejorado",
        "mejorada",
    ):
        assert gendered not in text


# --- optional sections, death, same-day stay --------------------------------------------------


def test_empty_optional_sections_are_omitted() -> None:
    stay = variant(
        procedures=[],
        labs=[],
        vital_signs=[],
        follow_ups=[],
        discharge_instructions=[],
        discharge_medications=[],
        inpatient_medications=[],
    )
    assert keys(stay) == ["identificacion", "motivo", "antecedentes", "diagnosticos", "evolucion"]
    text = render_epicrisis(stay)
    for title in (
        "PROCEDIMIENTOS",
        "EXÁMENES RELEVANTES",
        "CONTROLES",
        "INDICACIONES",
        "TRATAMIENTO DURANTE LA HOSPITALIZACIÓN",
        "TRATAMIENTO AL ALTA",
    ):
        assert title not in text


def test_vitals_alone_keep_exams_section() -> None:
    stay = variant(labs=[])
    body = section(stay, "examenes")
    assert "Laboratorio" not in body
    assert body.startswith("Signos vitales al ingreso")


def test_evolution_section_without_free_text() -> None:
    body = section(variant(evolution=None), "evolucion")
    assert body.splitlines() == [
        "La paciente, ingresada el 10 de enero de 2026 desde urgencia, egresa mejorada "
        "el 15 de enero de 2026 a su domicilio, tras una estadía de 5 días."
    ]


def test_deceased_wording() -> None:
    stay = deceased()
    assert "tratamiento_alta" not in keys(stay) and "controles" not in keys(stay)
    ident = section(stay, "identificacion")
    assert "Fecha de fallecimiento: 14 de enero de 2026" in ident
    assert "Fecha de egreso" not in ident
    assert "Condición al egreso: fallecida" in ident
    last = section(stay, "evolucion").splitlines()[-1]
    assert last == (
        "La paciente, ingresada el 10 de enero de 2026 desde urgencia, fallece el 14 de enero de 2026, "
        "tras 4 días de hospitalización."
    )
    text = render_epicrisis(stay)
    assert "egresa" not in text
    assert "Signos vitales al egreso" not in text
    assert "Último control de signos vitales (14 de enero de 2026): PA 128/76 mmHg" in text


def test_deceased_neutral_wording() -> None:
    last = section(deceased(patient__sex="X"), "evolucion").splitlines()[-1]
    assert last.startswith("Ingresa el 10 de enero de 2026 desde urgencia y fallece el 14 de enero de 2026")


def test_same_day_stay() -> None:
    stay = variant(
        discharge={"discharged_on": "2026-01-10", "condition": "mejorado", "destination": "domicilio"},
        procedures=[],
        labs=[],
        vital_signs=[],
    )
    assert stay.length_of_stay_days == 0
    assert "Estadía: menos de un día" in section(stay, "identificacion")
    assert section(stay, "evolucion").splitlines()[-1] == (
        "La paciente, ingresada el 10 de enero de 2026 desde urgencia, "
        "egresa mejorada el mismo día a su domicilio."
    )


def test_one_day_stay_is_singular() -> None:
    stay = variant(
        discharge={"discharged_on": "2026-01-11", "condition": "estable", "destination": "domicilio"},
        procedures=[],
        labs=[],
        vital_signs=[],
    )
    assert "Estadía: 1 día" in section(stay, "identificacion")
    assert (
        "egresa en condición estable el 11 de enero de 2026 a su domicilio, tras una estadía de 1 día."
        in (section(stay, "evolucion"))
    )


def test_free_text_blank_lines_do_not_split_sections() -> None:
    stay = variant(evolution="Primera línea.\n\n\nSegunda línea.")
    blocks = parse_blocks(render_epicrisis(stay))
    assert [title for title, _ in blocks] == [SECTION_TITLES[k] for k in SECTION_KEYS]
    assert section(stay, "evolucion").startswith("Primera línea.\nSegunda línea.\n")


# --- determinism and provenance ---------------------------------------------------------------


def test_rendering_is_deterministic(example: HospitalStay) -> None:
    first = render_epicrisis(example).encode("utf-8")
    again = render_epicrisis(stay_from(example_dict())).encode("utf-8")
    assert first == again == render_epicrisis(example).encode("utf-8")


def test_template_version_is_12_hex_chars() -> None:
    assert re.fullmatch(r"[0-9a-f]{12}", TEMPLATE_VERSION)


def test_template_version_hashes_templates_then_code() -> None:
    package = Path(__file__).resolve().parents[2] / "clinical" / "writer"
    digest = hashlib.sha256()
    for template in sorted((package / "templates").glob("*.j2"), key=lambda p: p.name):
        digest.update(template.read_bytes())
    digest.update((package / "spanish.py").read_bytes())
    digest.update((package / "__init__.py").read_bytes())
    assert TEMPLATE_VERSION == digest.hexdigest()[:12]


# --- property test over generated records -----------------------------------------------------


def _record_dates(stay: HospitalStay) -> set[dt.date]:
    dates = {stay.admission.admitted_at.date(), stay.discharge.discharged_on}
    if stay.patient.birth_date:
        dates.add(stay.patient.birth_date)
    dates |= {p.performed_on for p in stay.procedures}
    dates |= {lab.taken_on for lab in stay.labs}
    dates |= {v.taken_at.date() for v in stay.vital_signs}
    dates |= {f.date for f in stay.follow_ups if f.date}
    return dates


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stay=hospital_stays())
def test_any_valid_record_renders_completely(stay: HospitalStay) -> None:
    text = render_epicrisis(stay)
    assert render_epicrisis(stay) == text  # deterministic

    blocks = parse_blocks(text)
    titles = [title for title, _ in blocks]
    assert titles == [SECTION_TITLES[k] for k in SECTION_KEYS if SECTION_TITLES[k] in titles]  # order
    for title, body in blocks:
        assert title in ALL_TITLES
        assert body and all(line.strip() for line in body), f"empty or blank body under {title}"
    for leftover in ("None", "{{", "{%", "  "):
        assert leftover not in text

    for dx in stay.diagnoses:
        assert f"{dx.description} (CIE-10: {dx.code})" in text
    for proc in stay.procedures:
        assert f"{format_date(proc.performed_on)}: {proc.description}" in text
    for med in stay.discharge_medications:
        assert f"{med.name} {format_dose(med)}" in text

    # No invented dates: every written-out date comes from the record.
    allowed = {format_date(d) for d in _record_dates(stay)}
    written = {m.group(0) for m in WRITTEN_DATE.finditer(text)}
    assert written <= allowed

    # And the same output checks that judge a model's draft find nothing to report.
    report = check_draft(stay, text)
    assert report.ok, report.to_dict()


# --- inpatient treatment, combination products, per-kg doses -----------------------------------


def test_inpatient_treatment_lists_every_inpatient_drug(example: HospitalStay) -> None:
    body = section(example, "tratamiento_hospitalizacion")
    assert body.splitlines() == [
        "1. Ceftriaxona 2 g vía intravenosa cada 24 horas por 5 días.",
        "2. Insulina cristalina 4 UI vía subcutánea según esquema.",
        "3. Paracetamol 1 g vía oral cada 8 horas si fiebre.",
    ]


def test_combination_product_and_per_kg_dose() -> None:
    stay = variant(
        patient={**example_dict()["patient"], "weight_kg": 11},
        discharge_medications=[
            {"name": "Amoxicilina/ácido clavulánico", "dose": "875/125", "unit": "mg", "route": "oral",
             "frequency": "cada 12 horas", "duration": "7 días"},
            {"name": "Paracetamol", "dose": 15, "unit": "mg/kg", "route": "oral", "frequency": "cada 6 horas"},
        ],
    )
    assert section(stay, "tratamiento_alta").splitlines() == [
        "1. Amoxicilina/ácido clavulánico 875/125 mg vía oral cada 12 horas por 7 días.",
        "2. Paracetamol 15 mg/kg (165 mg) vía oral cada 6 horas.",
    ]
    assert "Peso: 11 kg" in section(stay, "identificacion")
