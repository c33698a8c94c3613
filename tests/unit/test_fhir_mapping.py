"""FHIR R4 in and out (clinical.fhir): the shipped examples, a Synthea-style bundle, refusals, documents."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle

from clinical.contract import example_records
from clinical.fhir import (
    DocumentFacts,
    Edit,
    FhirMappingError,
    bundle_to_record,
    document_bundle,
    record_to_bundle,
)
from clinical.fhir.__main__ import example_bundles
from clinical.record import HospitalStay
from clinical.writer import render_epicrisis

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "clinical" / "examples" / "fhir"
SYNTHEA = ROOT / "tests" / "fixtures" / "fhir" / "synthea_pneumonia.json"
CONTEXT = {"today": dt.date(2026, 11, 21)}


def example_bundle(name: str = "neumonia_chile") -> dict[str, Any]:
    return json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))


def problems(data: Any) -> list[dict[str, str]]:
    with pytest.raises(FhirMappingError) as exc:
        bundle_to_record(data, context=CONTEXT)
    return exc.value.problems


def locs(data: Any) -> list[str]:
    return [p["loc"] for p in problems(data)]


def entry_of(bundle: dict[str, Any], kind: str, n: int = 0) -> tuple[int, dict[str, Any]]:
    found = [(i, e["resource"]) for i, e in enumerate(bundle["entry"]) if e["resource"]["resourceType"] == kind]
    return found[n]


# --- the shipped examples ------------------------------------------------------------------------

def test_committed_examples_are_what_the_code_writes() -> None:
    written = example_bundles()
    assert sorted(written) == sorted(example_records())
    for name, text in written.items():
        assert (EXAMPLES / f"{name}.json").read_text(encoding="utf-8") == text, f"regenerate {name}.json"


@pytest.mark.parametrize("name", sorted(example_records()))
def test_each_example_bundle_gives_the_record_and_the_same_template_draft(name: str) -> None:
    record = HospitalStay.model_validate(example_records()[name], context=CONTEXT)
    bundle = example_bundle(name)
    assert bundle["type"] == "transaction"
    Bundle.model_validate(bundle)
    from_fhir = bundle_to_record(bundle, context=CONTEXT)
    assert from_fhir == record
    assert render_epicrisis(from_fhir) == render_epicrisis(record)


def test_example_times_carry_the_hospital_offset_and_read_back_as_wall_clock() -> None:
    _, enc = entry_of(example_bundle("neumonia_chile"), "Encounter")
    assert enc["period"]["start"] == "2026-01-10T14:35:00-03:00"
    assert bundle_to_record(example_bundle("neumonia_chile"), context=CONTEXT).admission.admitted_at == \
        dt.datetime(2026, 1, 10, 14, 35)


def test_a_collection_bundle_and_json_text_are_read_too() -> None:
    bundle = example_bundle("minimo")
    bundle["type"] = "collection"
    for e in bundle["entry"]:
        del e["request"]
    assert bundle_to_record(json.dumps(bundle), context=CONTEXT).patient.age_years == 34


# --- a producer Alta did not write: Synthea-style (SNOMED, US data, extra resources) -------------

def synthea() -> dict[str, Any]:
    return json.loads(SYNTHEA.read_text(encoding="utf-8"))


def test_synthea_bundle_as_exported_is_refused_naming_each_element() -> None:
    found = problems(synthea())
    assert sorted(p["loc"] for p in found) == sorted([
        "Bundle.entry[7].resource.code",  # SNOMED-only diagnosis: no CIE-10 code for the record
        "Bundle.entry[8].resource.code",  # body height: a vital sign Alta does not map
        "Bundle.entry[10].resource.code",  # BMI
        "Bundle.entry[16].resource.code",  # pain score
        "Bundle.entry[19].resource.category",  # inpatient or discharge medication?
        "Bundle.entry[19].resource.dosageInstruction[0].doseAndRate[0].doseQuantity.unit",
        "Bundle.entry[19].resource.dosageInstruction[0].route",
    ])
    assert {p["type"] for p in found} >= {"fhir_uncoded_condition", "fhir_medication_group"}
    text = json.dumps(found)
    for value in ("Brekke496", "Aaron697", "999-65-3251", "Pneumonia", "Amoxicillin", "BAYSTATE"):
        assert value not in text


def fixed_synthea() -> dict[str, Any]:
    """The Synthea bundle after the fixes the 422 asks for: an ICD-10-CM code, the medication's group,
    route and unit, and the vital signs Alta does not map left out."""
    bundle = synthea()
    condition = bundle["entry"][7]["resource"]
    condition["code"]["coding"].append({"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "J18.9",
                                        "display": "Pneumonia, unspecified organism"})
    med = bundle["entry"][19]["resource"]
    med["category"] = [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/medicationrequest-category",
                                    "code": "inpatient"}]}]
    dosage = med["dosageInstruction"][0]
    dosage["route"] = {"coding": [{"system": "http://snomed.info/sct", "code": "26643006", "display": "Oral route"}]}
    dosage["doseAndRate"][0]["doseQuantity"].update({"value": 250, "unit": "mg"})
    bundle["entry"] = [e for i, e in enumerate(bundle["entry"]) if i not in (8, 10, 16)]
    return bundle


def test_synthea_bundle_with_the_fixes_the_422_names_is_imported() -> None:
    stay = bundle_to_record(fixed_synthea(), context=CONTEXT)
    assert stay.patient.name == "Aaron697 Luis923 Brekke496"
    assert stay.patient.sex.value == "M" and stay.patient.birth_date == dt.date(1962, 8, 29)
    assert [i.type.value for i in stay.patient.identifiers] == ["OTRO", "NHC", "OTRO", "OTRO", "PASAPORTE"]
    assert str(stay.patient.weight_kg) == "84.2"
    assert stay.admission.admitted_at == dt.datetime(2025, 2, 11, 10, 12, 7)  # wall clock, offset dropped
    assert stay.admission.service == "Hospital admission (procedure)"  # Encounter.type: no serviceType
    assert stay.admission.reason == "Pneumonia (disorder)"
    assert stay.discharge.discharged_on == dt.date(2025, 2, 15)
    assert stay.discharge.destination.value == "domicilio"  # NUBC 01
    assert [(d.code, d.kind.value) for d in stay.diagnoses] == [("J18.9", "principal")]
    assert [p.description for p in stay.procedures] == ["Plain chest X-ray (procedure)"]
    assert [p.code for p in stay.procedures] == ["399208008"]
    med = stay.inpatient_medications[0]
    assert (med.name, med.dose, med.unit, med.route.value, med.frequency) == (
        "Amoxicillin 250 MG Oral Capsule", 250, "mg", "oral", "cada 8 horas")
    vitals = stay.vital_signs[0]
    assert (vitals.systolic_mmhg, vitals.diastolic_mmhg, vitals.heart_rate_bpm, vitals.respiratory_rate_rpm,
            vitals.spo2_percent) == (131, 82, 96, 22, 91)
    assert str(vitals.temperature_c) == "38.5"  # 101.3 °F
    assert [(lab.value, lab.unit) for lab in stay.labs] == [("14,2", "10*3/uL")]
    assert stay.discharge_instructions == ["Recommendation to avoid exercise", "Deep breathing and coughing exercises"]
    # the diabetes and the flu shot belong to an earlier encounter: not this stay's
    assert stay.medical_history == [] and stay.allergies is None
    render_epicrisis(stay)


# --- refusals ------------------------------------------------------------------------------------

def test_not_a_bundle_and_empty_bundles_are_refused() -> None:
    assert locs({"resourceType": "Patient"}) == ["Bundle.resourceType"]
    assert locs([1, 2]) == ["Bundle.resourceType"]
    assert locs({"resourceType": "Bundle", "type": "collection"}) == ["Bundle.entry"]
    assert locs("{not json") == ["Bundle"]


def test_unknown_resource_types_and_invalid_elements_name_the_entry_and_never_the_value() -> None:
    bundle = example_bundle()
    bundle["entry"][3]["resource"] = {"resourceType": "Patiente"}
    assert locs(bundle) == ["Bundle.entry[3].resource.resourceType"]
    bundle = example_bundle()
    bundle["entry"][0]["resource"]["birthDate"] = "María 12.345.678-5"
    found = problems(bundle)
    assert [p["loc"] for p in found] == ["Bundle.entry[0].resource.birthDate"]
    assert "María" not in json.dumps(found) and "12.345.678-5" not in json.dumps(found)
    bundle = example_bundle()
    bundle["entry"][0]["resource"]["nickname"] = "Mari"
    assert locs(bundle) == ["Bundle.entry[0].resource.nickname"]


def test_two_stays_in_one_bundle_are_refused() -> None:
    bundle = example_bundle()
    enc = copy.deepcopy(bundle["entry"][1])
    enc["fullUrl"] = "urn:uuid:00000000-0000-4000-8000-000000000001"
    enc["resource"]["id"] = "00000000-0000-4000-8000-000000000001"
    bundle["entry"].append(enc)
    assert locs(bundle) == ["Bundle.entry"]


def test_an_unmapped_resource_of_the_stay_is_refused_but_one_of_another_stay_is_not_read() -> None:
    bundle = example_bundle()
    _, enc = entry_of(bundle, "Encounter")
    immunization = {"resourceType": "Immunization", "status": "completed", "vaccineCode": {"text": "Influenza"},
                    "patient": {"reference": bundle["entry"][0]["fullUrl"]},
                    "encounter": {"reference": bundle["entry"][1]["fullUrl"]}, "occurrenceDateTime": "2026-01-12"}
    bundle["entry"].append({"fullUrl": "urn:uuid:00000000-0000-4000-8000-00000000000a", "resource": immunization})
    assert locs(bundle) == [f"Bundle.entry[{len(bundle['entry']) - 1}].resource.resourceType"]
    immunization["encounter"] = {"reference": "Encounter/another-stay"}
    assert bundle_to_record(bundle, context=CONTEXT).patient.name == "María Elena Soto Pérez"


def test_a_condition_coded_only_in_snomed_is_refused_at_its_code() -> None:
    bundle = example_bundle()
    i, condition = entry_of(bundle, "Condition", 1)
    condition["code"]["coding"] = [{"system": "http://snomed.info/sct", "code": "44054006"}]
    found = problems(bundle)
    assert [(p["loc"], p["type"]) for p in found] == [(f"Bundle.entry[{i}].resource.code", "fhir_uncoded_condition")]


def test_national_icd10_systems_are_codes_too() -> None:
    bundle = example_bundle()
    _, condition = entry_of(bundle, "Condition", 1)
    condition["code"]["coding"] = [{"system": "urn:oid:2.16.840.1.113883.6.3", "code": "E119"}]
    assert bundle_to_record(bundle, context=CONTEXT).diagnoses[1].code == "E11.9"


def test_record_rules_come_back_at_the_fhir_element() -> None:
    bundle = example_bundle()
    i, enc = entry_of(bundle, "Encounter")
    enc["period"]["end"] = "2026-01-09"
    found = problems(bundle)
    assert found[0]["loc"] == f"Bundle.entry[{i}].resource.period.end"
    assert found[0]["type"] == "discharge_before_admission"
    bundle = example_bundle()
    i, enc = entry_of(bundle, "Encounter")
    for d in enc["diagnosis"]:
        d["rank"] = 2
    assert [p["loc"] for p in problems(bundle)] == [f"Bundle.entry[{i}].resource.diagnosis"]
    bundle = example_bundle()
    i, patient = entry_of(bundle, "Patient")
    patient["identifier"][0]["value"] = "7.654.321-0"  # wrong RUT check digit
    assert [p["loc"] for p in problems(bundle)] == [f"Bundle.entry[{i}].resource.identifier[0].value"]


def test_no_known_allergies_is_an_empty_list_and_cannot_sit_next_to_an_allergy() -> None:
    bundle = example_bundle("colecistitis_mexico")
    assert bundle_to_record(bundle, context=CONTEXT).allergies == []
    i, nka = entry_of(bundle, "AllergyIntolerance")
    other = copy.deepcopy(bundle["entry"][i])
    other["fullUrl"] = "urn:uuid:00000000-0000-4000-8000-00000000000b"
    other["resource"]["code"] = {"text": "Penicilina"}
    bundle["entry"].append(other)
    assert locs(bundle) == [f"Bundle.entry[{i}].resource.code"]


def test_medication_group_from_the_period_when_there_is_no_category() -> None:
    bundle = example_bundle("minimo")
    i, med = entry_of(bundle, "MedicationRequest")
    del med["category"]
    assert locs(bundle) == [f"Bundle.entry[{i}].resource.category"]
    med["dosageInstruction"][0]["timing"]["repeat"] = {"boundsPeriod": {"start": "2026-06-01"}}
    stay = bundle_to_record(bundle, context=CONTEXT)
    assert [m.name for m in stay.discharge_medications] == ["Salbutamol", "Prednisona"]


# --- the document out ----------------------------------------------------------------------------

def facts(**over: Any) -> DocumentFacts:
    at = dt.datetime(2026, 1, 16, 12, 0)
    base = dict(id="3f1c0d2e-0000-4000-8000-000000000001", version=1, text="", signed=False, created_at=at,
                updated_at=at, created_by="ehr", engine="template", model="alta-template", model_version="1",
                edits=[Edit(1, "engine", "template", at)])
    return DocumentFacts(**{**base, **over})


def test_a_draft_is_a_preliminary_document_with_provenance_and_coded_sections() -> None:
    stay = HospitalStay.model_validate(example_records()["neumonia_chile"], context=CONTEXT)
    text = render_epicrisis(stay)
    doc = document_bundle(stay, facts(text=text))
    Bundle.model_validate(doc)
    assert doc["type"] == "document" and doc["identifier"]["value"].startswith("urn:uuid:")
    kinds = [e["resource"]["resourceType"] for e in doc["entry"]]
    assert kinds[0] == "Composition" and {"Patient", "Encounter", "Provenance", "DocumentReference"} <= set(kinds)
    comp = doc["entry"][0]["resource"]
    assert comp["status"] == "preliminary" and "attester" not in comp
    assert comp["type"]["coding"][0]["code"] == "18842-5"
    assert "security" not in comp.get("meta", {})  # the template engine is not AI
    sections = {s["title"]: s for s in comp["section"]}
    assert len(sections["DIAGNÓSTICOS DE EGRESO"]["entry"]) == 3
    assert len(sections["TRATAMIENTO AL ALTA"]["entry"]) == 3
    assert len(sections["TRATAMIENTO DURANTE LA HOSPITALIZACIÓN"]["entry"]) == 3
    assert len(sections["PROCEDIMIENTOS"]["entry"]) == 2
    refs = {e["fullUrl"] for e in doc["entry"]}
    assert all(x["reference"] in refs for s in comp["section"] for x in s.get("entry", []))
    prov = next(e["resource"] for e in doc["entry"] if e["resource"]["resourceType"] == "Provenance")
    assert prov["activity"]["coding"][0]["code"] == "template-drafted"
    assert prov["target"][0]["reference"] == doc["entry"][0]["fullUrl"]


def test_a_signed_clinician_edited_model_draft_is_final_with_attester_and_ai_label() -> None:
    stay = HospitalStay.model_validate(example_records()["minimo"], context=CONTEXT)
    at = dt.datetime(2026, 6, 2, 9, 0)
    text = "MOTIVO DE INGRESO\nCrisis <asmática> & disnea\n\nEVOLUCIÓN\nBien."
    doc = document_bundle(stay, facts(
        text=text, version=2, signed=True, signed_by="Dra. Pérez", signed_at=at, signed_with="ward-key",
        engine="onnx", model="qwen2.5-0.5b-epicrisis", edits=[Edit(1, "engine", "onnx", at), Edit(2, "clinician", "Dra. Pérez", at)]),
        composition_type="34105-7")
    Bundle.model_validate(doc)
    comp = doc["entry"][0]["resource"]
    assert comp["status"] == "final" and comp["type"]["coding"][0]["code"] == "34105-7"
    assert comp["attester"][0]["mode"] == "legal" and comp["attester"][0]["party"]["display"] == "Dra. Pérez"
    assert comp["meta"]["security"][0]["code"] == "AIAST"
    assert "&lt;asmática&gt; &amp; disnea" in comp["section"][0]["text"]["div"]
    prov = next(e["resource"] for e in doc["entry"] if e["resource"]["resourceType"] == "Provenance")
    assert prov["activity"]["coding"][0]["code"] == "clinician-edited"
    agents = [(a["type"]["coding"][0]["code"], a["who"]["display"]) for a in prov["agent"]]
    assert ("attester", "Dra. Pérez") in agents and ("enterer", "API key ward-key") in agents
    assert agents[0][0] == "author" and "onnx" in agents[0][1]
    docref = next(e["resource"] for e in doc["entry"] if e["resource"]["resourceType"] == "DocumentReference")
    assert docref["docStatus"] == "final"


def test_document_type_must_be_one_alta_knows() -> None:
    stay = HospitalStay.model_validate(example_records()["minimo"], context=CONTEXT)
    with pytest.raises(ValueError, match="18842-5"):
        document_bundle(stay, facts(text="x"), composition_type="11490-0")


def test_record_to_bundle_is_deterministic() -> None:
    stay = HospitalStay.model_validate(example_records()["minimo"], context=CONTEXT)
    assert record_to_bundle(stay) == record_to_bundle(stay)


def test_an_appointment_is_a_follow_up_and_a_medication_statement_a_medication() -> None:
    bundle = example_bundle("neumonia_chile")
    i, request = entry_of(bundle, "ServiceRequest")
    bundle["entry"][i]["resource"] = {
        "resourceType": "Appointment", "status": "booked", "serviceType": [{"text": "Medicina Interna"}],
        "start": "2026-01-29T10:00:00-03:00", "description": "Traer exámenes",
        "participant": [{"actor": {"reference": bundle["entry"][0]["fullUrl"]}, "status": "accepted"},
                        {"actor": {"type": "Location", "display": "Policlínico de Medicina, CESFAM Los Aromos"},
                         "status": "accepted"}]}
    j, med = entry_of(bundle, "MedicationRequest", 3)  # the first discharge medication
    bundle["entry"][j]["resource"] = {
        "resourceType": "MedicationStatement", "status": "active", "medicationCodeableConcept": med["medicationCodeableConcept"],
        "subject": med["subject"], "context": med["encounter"], "effectivePeriod": {"start": "2026-01-15"},
        "dosage": med["dosageInstruction"]}
    stay = bundle_to_record(bundle, context=CONTEXT)
    fu = stay.follow_ups[0]
    assert (fu.specialty, fu.date, fu.place, fu.notes) == (
        "Medicina Interna", dt.date(2026, 1, 29), "Policlínico de Medicina, CESFAM Los Aromos", "Traer exámenes")
    assert stay.discharge_medications[0].name == "Levofloxacino" and len(stay.discharge_medications) == 3


def test_a_patient_without_birth_date_or_age_is_named_at_the_patient() -> None:
    bundle = example_bundle("neumonia_chile")
    i, patient = entry_of(bundle, "Patient")
    del patient["birthDate"]
    assert [(p["loc"], p["type"]) for p in problems(bundle)] == [(f"Bundle.entry[{i}].resource", "age_missing")]
