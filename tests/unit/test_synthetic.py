"""Tests of the synthetic epicrisis data: the catalog, the stay generator, the narratives and the splits."""

from __future__ import annotations

import collections
import datetime as dt
import json
import os
import random
import re
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

from clinical.checks import check_draft
from clinical.contract import canonical_json
from clinical.identifiers import check_identifier
from clinical.lexicon import load_lexicon
from clinical.record import CIE10_PATTERN, DischargeCondition, HospitalStay, IdentifierType, Sex
from training.data import EpicrisisExample, synthetic_epicrisis_split, write_jsonl
from training.data.catalog import _picks, load_catalog, people
from training.data.narratives import SECTION_ORDERS, check_format, reference_epicrisis, section_bodies
from training.data.synthetic import TODAY, generate_stay, generate_stays

CONTEXT = {"today": TODAY}
REPO = Path(__file__).resolve().parents[2]
CHILDREN_ONLY = {"Pediatría", "Neonatología", "Cirugía Infantil", "Cirugía Pediátrica"}
ADULTS_ONLY = {"Medicina Interna", "Cirugía", "Cirugía General", "Cardiología", "Neurología", "Urología",
               "Psiquiatría", "Unidad de Paciente Crítico", "Unidad de Cuidados Intensivos"}
MALE_ONLY = ("N40", "C61", "N44", "N45", "Q53", "R33", "K85.2")


def _stays(profile: str, country: str, n: int = 100, seed: int = 11) -> list[HospitalStay]:
    return generate_stays(n, f"{seed}:{profile}:{country}", profile=profile, country=country)


@pytest.fixture(scope="module")
def compact() -> list[HospitalStay]:
    return _stays("compact", "CL") + _stays("compact", "MX")


@pytest.fixture(scope="module")
def full() -> list[HospitalStay]:
    return _stays("full", "CL") + _stays("full", "MX")


@pytest.fixture(scope="module")
def narrated(compact: list[HospitalStay], full: list[HospitalStay]) -> list[tuple[HospitalStay, str]]:
    rng = random.Random(5)
    stays = compact[:75] + compact[100:175] + full[:75] + full[100:175]  # both countries, both profiles
    return [(stay, reference_epicrisis(stay, rng)) for stay in stays]


# --- catalog ------------------------------------------------------------------------------------


def test_catalog_has_enough_coded_diagnoses_procedures_medications_and_labs() -> None:
    catalog = load_catalog()
    codes = list(catalog.diagnoses)
    assert len(codes) >= 200 and len(set(codes)) == len(codes)
    assert all(CIE10_PATTERN.match(code) for code in codes)
    principal = [d for d in catalog.diagnoses.values() if d.principal]
    assert len(principal) >= 200
    assert all(d.services and d.family in catalog.families for d in principal)
    assert len(catalog.procedures) >= 100 and len(catalog.medications) >= 150 and len(catalog.labs) >= 50
    raw = resources.files("training.data.catalog").joinpath("diagnoses.tsv").read_text(encoding="utf-8")
    assert len(raw.splitlines()) - 1 == len(codes)  # no code silently listed twice


def test_every_medication_is_a_drug_the_output_checks_recognise() -> None:
    lexicon = load_lexicon()
    for med in load_catalog().medications.values():
        assert lexicon.canonical(med.name) or lexicon.find(med.name), med.id
        assert med.drug in {entry.canonical for entry in lexicon}


def test_every_service_has_principal_diagnoses_for_its_ages() -> None:
    catalog = load_catalog()
    for service in catalog.services.values():
        lo, hi = service.ages
        fits = [d for d in catalog.diagnoses.values()
                if d.principal and service.key in d.services and d.ages[0] <= hi and d.ages[1] >= lo]
        assert len(fits) >= 5, service.key


def test_every_principal_diagnosis_has_a_prescription_at_every_age_it_occurs() -> None:
    catalog = load_catalog()
    for dx in (d for d in catalog.diagnoses.values() if d.principal):
        family = catalog.families[dx.family]
        for key in dx.services:
            lo, hi = max(catalog.services[key].ages[0], dx.ages[0]), min(catalog.services[key].ages[1], dx.ages[1])
            if lo > hi:
                continue
            age_classes = {"neo"} if key == "neo" else {c for c, fits in (("nino", lo < 15), ("adulto", hi >= 15)) if fits}
            for age_class in age_classes:
                options = [o for p in family.discharge for o in p.options if o not in dx.avoid]
                assert any({"*", age_class} & catalog.medications[o].ages for o in options), (dx.code, age_class)


def test_slot_syntax_parses_options_optional_slots_and_lab_directions() -> None:
    picks = _picks("leucocitos+|pcr+,procalcitonina?|creatinina", labs=True)
    assert [p.options for p in picks] == [("leucocitos",), ("pcr", "procalcitonina"), ("creatinina",)]
    assert [p.optional for p in picks] == [False, True, False]
    assert picks[0].directions == ("+",) and picks[1].directions == ("+", "")


# --- identifiers ----------------------------------------------------------------------------------


def test_generated_identifiers_pass_their_check_digits() -> None:
    rng = random.Random(3)
    for _ in range(300):
        born = dt.date(1930, 1, 1) + dt.timedelta(days=rng.randint(0, 35_000))
        assert check_identifier("RUT", people.rut(rng, born.year)) is None
        assert check_identifier("CURP", people.curp(rng, "María José", "Muñoz", "de la Peña", born, "F")) is None
        assert check_identifier("NSS", people.nss(rng, born, TODAY)) is None


def test_curp_is_built_from_name_birth_date_and_sex() -> None:
    rng = random.Random(0)
    value = people.curp(rng, "José Luis", "Hernández", "García", dt.date(1970, 2, 15), "M")
    assert value.startswith("HEGL700215H")  # "José" is skipped for the initial, as RENAPO does
    assert value[13:16] == "RRS"  # first inner consonants of Hernández, García, Luis
    peña = people.curp(rng, "Ana", "Peña", "Núñez", dt.date(2003, 9, 1), "F")
    assert peña[:4] == "PENA" and peña[10] == "M" and peña[13:15] == "XX"  # Ñ is written X
    assert peña[16].isalpha()  # born in 2000 or later: the differentiator is a letter


def test_rut_numbers_grow_with_the_birth_year() -> None:
    rng = random.Random(1)
    body = lambda year: int(people.rut(rng, year).split("-")[0].replace(".", ""))  # noqa: E731
    assert all(body(1945) < body(2015) for _ in range(50))


# --- generator ------------------------------------------------------------------------------------


def test_generation_is_deterministic_per_seed() -> None:
    first = [canonical_json(s) for s in generate_stays(30, 7, profile="full")]
    assert first == [canonical_json(s) for s in generate_stays(30, 7, profile="full")]
    assert first != [canonical_json(s) for s in generate_stays(30, 8, profile="full")]


def test_splits_do_not_depend_on_the_interpreter_hash_seed() -> None:
    """Set iteration order changes with PYTHONHASHSEED; the data must not."""
    script = ("import hashlib; from training.data import synthetic_epicrisis_split as s; "
              "print(hashlib.sha256(repr([(e.stay, e.text) for v in s(20, 5, 5, 1).values() for e in v])"
              ".encode()).hexdigest())")
    digests = {subprocess.run([sys.executable, "-c", script], env={**os.environ, "PYTHONHASHSEED": seed},
                              capture_output=True, text=True, check=True, cwd=REPO).stdout for seed in ("1", "2")}
    assert len(digests) == 1


def test_bad_arguments_say_what_is_accepted() -> None:
    with pytest.raises(ValueError, match="'compact' or 'full'"):
        generate_stay(random.Random(0), profile="tiny")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'CL', 'MX'"):
        generate_stay(random.Random(0), country="AR")  # type: ignore[arg-type]


@pytest.mark.parametrize("profile", ["compact", "full"])
def test_every_record_validates_and_round_trips(profile: str, compact, full) -> None:
    stays = compact if profile == "compact" else full
    assert len(stays) == 200
    for stay in stays:
        again = HospitalStay.model_validate(json.loads(stay.model_dump_json()), context=CONTEXT)
        assert canonical_json(again) == canonical_json(stay)
        assert stay.discharge.discharged_on < TODAY


def test_identifiers_belong_to_the_patient_country(compact, full) -> None:
    for stays, mexican in ((compact[:100] + full[:100], False), (compact[100:] + full[100:], True)):
        kinds = {i.type for s in stays for i in s.patient.identifiers}
        national = {IdentifierType.CURP, IdentifierType.NSS} if mexican else {IdentifierType.RUT}
        assert national <= kinds and kinds <= national | {IdentifierType.NHC}


def test_ages_sexes_and_services_are_coherent(compact, full) -> None:
    catalog = load_catalog()
    for stay in compact + full:
        age, service = stay.age_at_admission, stay.admission.service
        codes = [d.code for d in stay.diagnoses]
        principal = catalog.diagnoses[stay.principal_diagnosis.code]
        assert principal.ages[0] <= age <= principal.ages[1]
        if service in CHILDREN_ONLY:
            assert age < 15
        if service in ADULTS_ONLY:
            assert age >= 15
        if service == "Neonatología":
            assert (stay.admission.admitted_at.date() - stay.patient.birth_date).days < 28
        if any(c.startswith(("O", "Z37", "Z30")) for c in codes):
            assert stay.patient.sex is Sex.FEMALE and 12 <= age <= 50
        if any(c.startswith(MALE_ONLY) for c in codes):
            assert stay.patient.sex is Sex.MALE
        lo, hi = catalog.families[principal.family].los
        assert lo <= stay.length_of_stay_days <= hi
        if stay.discharge.condition is DischargeCondition.DECEASED:
            assert not stay.discharge_medications and not stay.follow_ups


def test_stays_tell_the_story_of_their_diagnosis(full) -> None:
    catalog, lexicon = load_catalog(), load_lexicon()
    seen = collections.Counter()
    for stay in full:
        family = catalog.diagnoses[stay.principal_diagnosis.code].family
        procedures = " ".join(p.description for p in stay.procedures).lower()
        groups = {lexicon.entry(lexicon.find(m.name)[0].canonical).group for m in stay.inpatient_medications}
        seen[family] += 1
        if family == "neumonia":
            assert "radiografía de tórax" in procedures and "antibiótico" in groups
        if family == "apendicitis":
            assert "apendicectomía" in procedures and "antibiótico" in groups
        if family == "fractura_cadera":
            assert "cadera" in procedures
        if family in ("parto", "cesarea"):
            assert "Z37.0" in [d.code for d in stay.diagnoses]
            assert "parto" in procedures or "cesárea" in procedures
    assert len(seen) >= 40  # the 200 records spread over many clinical families


def test_compact_records_are_short(compact) -> None:
    lengths = sorted(len(canonical_json(s)) for s in compact)
    assert 1000 <= lengths[len(lengths) // 2] <= 1800
    assert lengths[int(len(lengths) * 0.9)] <= 2100 and lengths[-1] <= 2700
    for s in compact:
        assert 1 <= len(s.diagnoses) <= 3 and len(s.procedures) <= 2 and 1 <= len(s.discharge_medications) <= 3
        assert len(s.labs) <= 3 and len(s.vital_signs) <= 2 and 1 <= len(s.discharge_instructions) <= 3
        assert len(s.follow_ups) <= 2 and len(s.medical_history) + len(s.surgical_history) <= 2
        assert s.evolution is None or len(s.evolution) < 300


# --- narratives -----------------------------------------------------------------------------------


def test_narratives_pass_the_output_checks_and_the_format(narrated) -> None:
    assert len(narrated) == 300
    for stay, text in narrated:
        report = check_draft(stay, text)
        assert report.ok, (report.to_dict(), text)
        assert check_format(text, stay) == [], text
        for dx in stay.diagnoses:
            assert dx.code in text
        for med in stay.discharge_medications:
            assert med.name in text


def test_narratives_vary_their_wording_and_layout(narrated) -> None:
    evolution_openings, reason_openings, orders = set(), set(), set()
    for _, text in narrated:
        headings = [h for h, _ in section_bodies(text)]
        bodies = dict(section_bodies(text))
        if "EXÁMENES RELEVANTES" in bodies:
            orders.add(headings.index("EVOLUCIÓN") < headings.index("EXÁMENES RELEVANTES"))
        evolution_openings.add(" ".join(bodies["EVOLUCIÓN"].split()[:3]))
        reason_openings.add(bodies["MOTIVO DE INGRESO"].split()[0])
    assert len(evolution_openings) >= 3 and len(reason_openings) >= 3
    assert orders == {True, False}  # both accepted section orders occur
    texts = [text for _, text in narrated]
    layouts = [r"\(CIE-10: [A-Z]\d", r"\[[A-Z]\d\d", r"\nPrincipal: ", r"\n(- |• |1\. )[A-Z]\d\d"]
    assert sum(any(re.search(p, t) for t in texts) for p in layouts) >= 3  # diagnosis list formats
    texts = "\n".join(texts)
    assert "v.o." in texts and "vía oral" in texts  # abbreviated and spelled-out prescriptions
    assert re.search(r"\d de \w+ del 20\d\d", texts) and re.search(r"\d de \w+ de 20\d\d", texts)


def test_narratives_agree_with_the_patient_sex(narrated) -> None:
    for stay, text in narrated:
        if stay.patient.sex is Sex.FEMALE:
            assert not re.search(r"\b(Hospitalizado|Egresa mejorado|Alérgico)\b", text)
        elif stay.patient.sex is Sex.MALE:
            assert not re.search(r"\b(Hospitalizada|Egresa mejorada|Alérgica)\b", text)


def test_narratives_are_deterministic_for_a_seeded_rng(full) -> None:
    assert reference_epicrisis(full[0], random.Random(1)) == reference_epicrisis(full[0], random.Random(1))


def test_headings_are_exactly_the_contract_sections_each_on_its_own_line(narrated) -> None:
    allowed = set(SECTION_ORDERS[0])
    for _, text in narrated:
        headings = [line for line in text.splitlines() if re.fullmatch(r"[A-ZÁÉÍÓÚÑ ]{6,}", line)]
        assert headings[0] == "IDENTIFICACIÓN" and set(headings) <= allowed
        assert all(f"\n\n{h}\n" in "\n\n" + text for h in headings)  # own line, blank line before


# --- check_format ---------------------------------------------------------------------------------


def test_check_format_reports_each_layout_problem(full) -> None:
    stay = next(s for s in full if s.procedures and s.discharge_medications and s.follow_ups)
    text = reference_epicrisis(stay, random.Random(2))
    assert check_format(text, stay) == []
    blocks = text.strip().split("\n\n")
    without = "\n\n".join(b for b in blocks if not b.startswith("PROCEDIMIENTOS"))
    assert "missing section PROCEDIMIENTOS" in check_format(without, stay)
    assert check_format(without) == []  # without the record only the three core sections are required
    swapped = "\n\n".join([blocks[1], blocks[0], *blocks[2:]])
    assert "sections are not in an accepted order" in check_format(swapped, stay)
    assert "block 2 does not start with a known section heading" in check_format(
        blocks[0] + "\n\nRESUMEN\nTexto libre.\n\n" + "\n\n".join(blocks[1:]), stay)
    assert "section CONTROLES appears more than once" in check_format(text + "\n" + blocks[-1], stay)
    glued = text.replace("\n\nDIAGNÓSTICOS DE EGRESO", "\nDIAGNÓSTICOS DE EGRESO")
    assert any("not preceded by a blank line" in p for p in check_format(glued, stay))
    bare = stay.model_copy(update={"follow_ups": []})
    assert "section CONTROLES has no data in the record" in check_format(text, bare)


def test_check_format_accepts_the_results_before_evolution_order(full) -> None:
    stay = next(s for s in full if s.labs and s.evolution)
    text = reference_epicrisis(stay, random.Random(0))
    bodies = dict(section_bodies(text))
    reordered = "\n\n".join(f"{h}\n{bodies[h]}" for h in SECTION_ORDERS[1] if h in bodies)
    assert check_format(reordered, stay) == []


# --- splits and JSONL -----------------------------------------------------------------------------


def test_splits_are_disjoint_sized_and_deterministic() -> None:
    splits = synthetic_epicrisis_split(40, 10, 10, seed=3, profile="compact")
    assert {k: len(v) for k, v in splits.items()} == {"train": 40, "validation": 10, "test": 10}
    keys = {name: {canonical_json(e.stay) for e in examples} for name, examples in splits.items()}
    assert sum(len(k) for k in keys.values()) == 60
    again = synthetic_epicrisis_split(40, 10, 10, seed=3, profile="compact")
    assert [e.text for e in again["test"]] == [e.text for e in splits["test"]]
    bigger = synthetic_epicrisis_split(80, 10, 10, seed=3, profile="compact")
    assert [e.text for e in bigger["test"]] == [e.text for e in splits["test"]]  # growing train keeps test
    other = synthetic_epicrisis_split(40, 10, 10, seed=4, profile="compact")
    assert {canonical_json(e.stay) for e in other["test"]}.isdisjoint(keys["test"])
    with pytest.raises(ValueError, match="negative"):
        synthetic_epicrisis_split(-1, 0, 0, seed=0)


def test_jsonl_round_trips_through_the_record_schema(tmp_path) -> None:
    examples = synthetic_epicrisis_split(15, 0, 0, seed=9, profile="full")["train"]
    path = tmp_path / "nested" / "train.jsonl"
    assert write_jsonl(examples, path) == 15
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 15
    for line, example in zip(lines, examples, strict=True):
        obj = json.loads(line)
        assert set(obj) == {"record", "epicrisis"} and obj["epicrisis"] == example.text
        assert "null" not in json.dumps(obj["record"])
        stay = HospitalStay.model_validate(obj["record"], context=CONTEXT)
        assert canonical_json(stay) == canonical_json(example.stay)
        assert EpicrisisExample(stay, obj["epicrisis"]).to_json() == obj
