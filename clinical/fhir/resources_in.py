"""One reader per FHIR resource type: each places what it can into the record and names what it cannot.

Every reader works on ``fhir.resources`` models already validated, writes JSON-like values into
``reading.record`` (validated as a ``HospitalStay`` afterwards), notes in ``reading.origins`` which
element each record field came from, and reports problems by element, never by value.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from clinical.fhir import codes
from clinical.fhir.medications_in import read_medications
from clinical.fhir.observations_in import read_observations
from clinical.fhir.read_helpers import (
    codings,
    date,
    has_code,
    linked,
    put,
    stay_entries,
    text_of,
    wall,
)
from clinical.record import DiagnosisKind, IdentifierType

if TYPE_CHECKING:
    from clinical.fhir.bundle_in import Entry, Reading



def read_all(reading: Reading) -> None:
    _patient(reading)
    _encounter(reading)
    _conditions(reading)
    _procedures(reading)
    _allergies(reading)
    read_medications(reading)
    read_observations(reading)
    _follow_ups(reading)
    _care_plans(reading)
    _impressions(reading)


# --- Patient, Encounter --------------------------------------------------------------------------

def _patient(reading: Reading) -> None:
    entry = reading.patient
    assert entry is not None
    p, path = entry.resource, entry.path
    out: dict[str, Any] = {}
    put(reading, "patient", path)
    names = p.name or []
    name = next((n for n in names if n.use == "official"), names[0] if names else None)
    words = (name.text or " ".join([*(name.given or []), *([name.family] if name.family else [])])) if name else ""
    if words.strip():
        out["name"] = words
    else:
        reading.problem(f"{path}.name", "the Patient needs a name (HumanName.text, or given and family)")
    put(reading, "patient.name", f"{path}.name")
    if p.gender in codes.GENDER_IN:
        out["sex"] = codes.GENDER_IN[p.gender].value
    else:
        reading.problem(f"{path}.gender", "the Patient needs gender: female, male, other or unknown")
    put(reading, "patient.sex", f"{path}.gender")
    if isinstance(p.birthDate, dt.date):
        out["birth_date"] = p.birthDate.isoformat()
    elif p.birthDate is not None:
        reading.problem(f"{path}.birthDate", "a full birth date (YYYY-MM-DD) is needed; when only the age is "
                        "known, leave birthDate out and send an Observation with LOINC 30525-0 (age, in years)")
    put(reading, "patient.birth_date", f"{path}.birthDate")
    identifiers = []
    for j, ident in enumerate(p.identifier or []):
        if ident.use == "old" or not ident.value:
            continue
        put(reading, f"patient.identifiers[{len(identifiers)}]", f"{path}.identifier[{j}].value")
        identifiers.append({"type": _identifier_type(ident).value, "value": ident.value})
    out["identifiers"] = identifiers
    reading.record["patient"] = out


def _identifier_type(ident: Any) -> IdentifierType:
    for kind, system in codes.IDENTIFIER_SYSTEMS.items():
        if ident.system == system:
            return kind
    if ident.system in codes.IDENTIFIER_SYSTEM_ALIASES:
        return codes.IDENTIFIER_SYSTEM_ALIASES[ident.system]
    for system, code in codings(ident.type):
        kind = codes.IDENTIFIER_TYPE_CODES.get((system or "", code or ""))
        if kind is not None:
            return kind
    return IdentifierType.OTHER


def _encounter(reading: Reading) -> None:
    entry = reading.encounter
    assert entry is not None
    e, path = entry.resource, entry.path
    period = e.period
    admitted = wall(period.start) if period else None
    if admitted is None:
        reading.problem(f"{path}.period.start", "the Encounter needs period.start with date and time (admission)")
    discharged = date(period.end) if period else None
    if discharged is None:
        reading.problem(f"{path}.period.end", "the Encounter needs period.end (discharge date); Alta writes "
                        "epicrisis for finished stays")
    service = text_of(e.serviceType) or next((t for t in map(text_of, e.type or []) if t), None)
    if not service:
        reading.problem(f"{path}.serviceType", "the Encounter needs serviceType (the admitting service) with text")
    reasons = [t for t in map(text_of, e.reasonCode or []) if t]
    for ref in e.reasonReference or []:
        target = reading.resolve(ref)
        if target is not None and text_of(getattr(target.resource, "code", None)):
            reasons.append(text_of(target.resource.code))
    if not reasons:
        reading.problem(f"{path}.reasonCode", "the Encounter needs reasonCode with text (the reason for admission)")
    admission: dict[str, Any] = {"admitted_at": admitted.isoformat() if admitted else None,
                                 "service": service, "reason": "; ".join(reasons) or None}
    discharge: dict[str, Any] = {"discharged_on": discharged.isoformat() if discharged else None}
    hosp = e.hospitalization
    source = hosp.admitSource if hosp else None
    if source is not None:
        found = next((codes.ADMIT_SOURCE_IN[c] for _, c in codings(source) if c in codes.ADMIT_SOURCE_IN), None)
        if found is None:
            reading.problem(f"{path}.hospitalization.admitSource",
                            "admitSource code not known; use admit-source emd, outp, hosp-trans or other")
        else:
            admission["origin"] = found.value
    elif has_code(e.priority, None, "EL"):
        admission["origin"] = "electivo"
    disposition = hosp.dischargeDisposition if hosp else None
    if disposition is not None:
        found_dest = next((codes.NUBC_DISPOSITION_IN[c] if s == codes.NUBC_DISCHARGE else codes.DISPOSITION_IN[c]
                           for s, c in codings(disposition)
                           if c in (codes.NUBC_DISPOSITION_IN if s == codes.NUBC_DISCHARGE else codes.DISPOSITION_IN)),
                          None)
        if found_dest is None:
            reading.problem(f"{path}.hospitalization.dischargeDisposition",
                            "dischargeDisposition code not known; use discharge-disposition home, alt-home, "
                            "other-hcf, long, aadvice or exp (or NUBC 01, 02, 03, 06, 07, 20)")
        else:
            discharge["destination"] = found_dest.value
    for k, ext in enumerate(e.extension or []):
        if ext.url == codes.EXT_DISCHARGE_CONDITION:
            if ext.valueCode in codes.DISCHARGE_CONDITIONS:
                discharge["condition"] = ext.valueCode
            else:
                reading.problem(f"{path}.extension[{k}].valueCode", "discharge condition must be one of: "
                                + ", ".join(codes.DISCHARGE_CONDITIONS))
    if "condition" not in discharge and discharge.get("destination") == "anatomía patológica":
        discharge["condition"] = "fallecido"
    reading.record["admission"] = {k: v for k, v in admission.items() if v is not None}
    reading.record["discharge"] = {k: v for k, v in discharge.items() if v is not None}
    put(reading, "admission", path)
    put(reading, "discharge", path)
    for field_, element in [("admission.admitted_at", "period.start"), ("admission.service", "serviceType"),
                            ("admission.reason", "reasonCode"), ("admission.origin", "hospitalization.admitSource"),
                            ("discharge.discharged_on", "period.end"),
                            ("discharge.destination", "hospitalization.dischargeDisposition"),
                            ("discharge.condition", "extension"), ("diagnoses", "diagnosis")]:
        put(reading, field_, f"{path}.{element}")


# --- Condition, Procedure, AllergyIntolerance ----------------------------------------------------

def _principals(reading: Reading) -> set[int]:
    enc = reading.encounter
    assert enc is not None
    out = set()
    for d in enc.resource.diagnosis or []:
        target = reading.resolve(d.condition)
        if target is not None and d.rank == 1:
            out.add(target.index)
    return out


def _conditions(reading: Reading) -> None:
    principals = _principals(reading)
    diagnoses: list[dict[str, Any]] = []
    history: list[str] = []
    entries = stay_entries(reading, "Condition")
    candidates = [e for e in entries if not has_code(e.resource.category or [], None, "problem-list-item")]
    for entry in entries:
        c, path = entry.resource, entry.path
        if entry not in candidates:
            words = text_of(c.code)
            if words:
                put(reading, f"medical_history[{len(history)}]", f"{path}.code")
                history.append(words)
            else:
                reading.problem(f"{path}.code", "a problem-list Condition needs code.text or a display")
            continue
        icd = next(((k, cd) for k, cd in enumerate(c.code.coding or []) if codes.is_icd10(cd.system)), None) \
            if c.code else None
        if icd is None:
            reading.problem(f"{path}.code", "no ICD-10/CIE-10 coding: the record needs a CIE-10 code for every "
                            f"diagnosis; add a coding with system {codes.ICD10} (or a national ICD-10 variant)",
                            "fhir_uncoded_condition")
            continue
        k, coding = icd
        words = c.code.text or coding.display or text_of(c.code)
        if not words:
            reading.problem(f"{path}.code.text", "the Condition needs code.text (the diagnosis in words)")
            continue
        i = len(diagnoses)
        put(reading, f"diagnoses[{i}]", path)
        put(reading, f"diagnoses[{i}].code", f"{path}.code.coding[{k}].code")
        put(reading, f"diagnoses[{i}].description", f"{path}.code.text")
        single = len(candidates) == 1 and not principals
        kind = DiagnosisKind.PRINCIPAL if entry.index in principals or single else DiagnosisKind.SECONDARY
        diagnoses.append({"code": coding.code, "description": words, "kind": kind.value})
    reading.record["diagnoses"] = diagnoses
    reading.record["medical_history"] = history


def _procedures(reading: Reading) -> None:
    stay_start = reading.encounter.resource.period.start if reading.encounter.resource.period else None
    admitted = date(stay_start)
    procedures: list[dict[str, Any]] = []
    surgical: list[str] = []
    for entry in stay_entries(reading, "Procedure"):
        p, path = entry.resource, entry.path
        words = text_of(p.code)
        if not words:
            reading.problem(f"{path}.code", "the Procedure needs code.text or a display")
            continue
        performed = date(p.performedDateTime) or date(p.performedPeriod.start if p.performedPeriod else None)
        is_linked = linked(reading, entry)
        if not is_linked and (performed is None or (admitted is not None and performed < admitted)):
            year = f" ({performed.year})" if performed is not None else ""
            put(reading, f"surgical_history[{len(surgical)}]", f"{path}.code")
            surgical.append(f"{words}{year}")
            continue
        if performed is None:
            reading.problem(f"{path}.performedDateTime", "a Procedure of the stay needs performedDateTime "
                            "(or performedPeriod.start)")
            continue
        i = len(procedures)
        proc: dict[str, Any] = {"performed_on": performed.isoformat(), "description": words}
        code = next((cd.code for cd in (p.code.coding or []) if cd.code), None)
        if code:
            proc["code"] = code
        put(reading, f"procedures[{i}]", path)
        put(reading, f"procedures[{i}].performed_on", f"{path}.performedDateTime")
        put(reading, f"procedures[{i}].code", f"{path}.code.coding")
        procedures.append(proc)
    reading.record["procedures"] = procedures
    reading.record["surgical_history"] = surgical


def _allergies(reading: Reading) -> None:
    allergies: list[dict[str, Any]] = []
    none_known: list[Entry] = []
    for entry in stay_entries(reading, "AllergyIntolerance"):
        a, path = entry.resource, entry.path
        if has_code(a.code, codes.SNOMED, *codes.NO_KNOWN_ALLERGY):
            none_known.append(entry)
            continue
        substance = text_of(a.code)
        if not substance:
            reading.problem(f"{path}.code", "the AllergyIntolerance needs code.text (the substance)")
            continue
        item: dict[str, Any] = {"substance": substance}
        reactions = [t for r in a.reaction or [] for t in map(text_of, r.manifestation or []) if t]
        if reactions:
            item["reaction"] = ", ".join(reactions)
        put(reading, f"allergies[{len(allergies)}]", f"{path}.code")
        allergies.append(item)
    if allergies and none_known:
        for entry in none_known:
            reading.problem(f"{entry.path}.code", "says no known allergies, but the Bundle lists allergies; "
                            "send one or the other", "fhir_allergy_conflict")
    if allergies or none_known:
        reading.record["allergies"] = allergies


# --- follow-up, instructions, evolution ----------------------------------------------------------

def _follow_ups(reading: Reading) -> None:
    follow_ups: list[dict[str, Any]] = []
    for entry in stay_entries(reading, "ServiceRequest", "Appointment"):
        r, path = entry.resource, entry.path
        if entry.type == "ServiceRequest":
            specialty, element = text_of(r.code), "code"
            when = r.occurrenceDateTime or (r.occurrencePeriod.start if r.occurrencePeriod else None)
            place = text_of((r.locationCode or [None])[0]) or next(
                (x.display for x in r.locationReference or [] if x.display), None)
            notes = next((n.text for n in r.note or [] if n.text), None)
        else:
            specialty = text_of((r.serviceType or [None])[0]) or text_of((r.specialty or [None])[0])
            element = "serviceType"
            when = r.start or next((p.start for p in r.requestedPeriod or [] if p.start), None)
            place = next((p.actor.display for p in r.participant or []
                          if p.actor is not None and p.actor.display and (p.actor.type == "Location" or (
                              p.actor.reference or "").startswith("Location"))), None)
            notes = r.description or r.comment
        if not specialty:
            reading.problem(f"{path}.{element}", "a follow-up needs the specialty or service as text")
            continue
        fu: dict[str, Any] = {"specialty": specialty}
        if date(when) is not None:
            fu["date"] = date(when).isoformat()
        if place:
            fu["place"] = place
        if notes:
            fu["notes"] = notes
        put(reading, f"follow_ups[{len(follow_ups)}]", path)
        put(reading, f"follow_ups[{len(follow_ups)}].date",
             f"{path}.{'occurrenceDateTime' if entry.type == 'ServiceRequest' else 'start'}")
        follow_ups.append(fu)
    reading.record["follow_ups"] = follow_ups


def _care_plans(reading: Reading) -> None:
    instructions: list[str] = []
    for entry in stay_entries(reading, "CarePlan"):
        c, path = entry.resource, entry.path
        found = False
        for k, act in enumerate(c.activity or []):
            words = (act.detail.description or text_of(act.detail.code)) if act.detail else None
            if words:
                put(reading, f"discharge_instructions[{len(instructions)}]", f"{path}.activity[{k}].detail")
                instructions.append(words)
                found = True
        if not found and c.description:
            put(reading, f"discharge_instructions[{len(instructions)}]", f"{path}.description")
            instructions.append(c.description)
        elif not found:
            reading.problem(f"{path}.activity", "a CarePlan needs activity.detail.description (one per instruction)")
    reading.record["discharge_instructions"] = instructions


def _impressions(reading: Reading) -> None:
    texts = []
    for entry in stay_entries(reading, "ClinicalImpression"):
        if entry.resource.summary:
            put(reading, "evolution", f"{entry.path}.summary")
            texts.append(entry.resource.summary)
        else:
            reading.problem(f"{entry.path}.summary", "a ClinicalImpression needs summary (the stay's evolution)")
    if texts:
        reading.record["evolution"] = "\n\n".join(texts)
