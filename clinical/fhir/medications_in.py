"""MedicationRequest and MedicationStatement: inpatient or discharge, name, dose, unit, route, timing, duration."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from clinical.fhir import codes
from clinical.fhir.read_helpers import codings, date, has_code, put, stay_entries, text_of
from clinical.fhir.values import duration_from_bounds, frequency_from_timing
from clinical.record import Route

if TYPE_CHECKING:
    from clinical.fhir.bundle_in import Entry, Reading

ROUTES = {r.value: r for r in Route}


def read_medications(reading: Reading) -> None:
    groups: dict[str, list[dict[str, Any]]] = {"inpatient_medications": [], "discharge_medications": []}
    for entry in stay_entries(reading, "MedicationRequest", "MedicationStatement"):
        group = _medication_group(reading, entry)
        med = _medication(reading, entry)
        if group is None or med is None:
            continue
        i = len(groups[group])
        dosage = f"{entry.path}.{'dosageInstruction' if entry.type == 'MedicationRequest' else 'dosage'}[0]"
        for field_, element in [("", entry.path), (".name", f"{entry.path}.medicationCodeableConcept"),
                                (".dose", f"{dosage}.doseAndRate[0].doseQuantity.value"),
                                (".unit", f"{dosage}.doseAndRate[0].doseQuantity.unit"),
                                (".route", f"{dosage}.route"), (".frequency", f"{dosage}.timing"),
                                (".duration", f"{dosage}.timing.repeat.boundsDuration")]:
            put(reading, f"{group}[{i}]{field_}", element)
        groups[group].append(med)
    reading.record.update(groups)


def _medication_group(reading: Reading, entry: Entry) -> str | None:
    """Inpatient or discharge: the category says; else the period, against the discharge date."""
    m = entry.resource
    categories = m.category if isinstance(m.category, list) else [m.category] if m.category else []
    if has_code(categories, None, *codes.INPATIENT_CATEGORIES):
        return "inpatient_medications"
    if has_code(categories, None, *codes.DISCHARGE_CATEGORIES):
        return "discharge_medications"
    enc = reading.encounter.resource
    discharged = date(enc.period.end) if enc.period else None
    if entry.type == "MedicationRequest":
        dosage = (m.dosageInstruction or [None])[0]
        repeat = dosage.timing.repeat if dosage is not None and dosage.timing else None
        period = repeat.boundsPeriod if repeat is not None else None
    else:
        period = m.effectivePeriod
    start = date(period.start) if period is not None else date(getattr(m, "effectiveDateTime", None))
    end = date(period.end) if period is not None else None
    if discharged is not None and end is not None and end <= discharged:
        return "inpatient_medications"
    if discharged is not None and start is not None and start >= discharged:
        return "discharge_medications"
    reading.problem(f"{entry.path}.category", "say whether this medication was given in hospital or is for after "
                    f"discharge: category {codes.MEDREQ_CATEGORY}|inpatient or |discharge (or a period that ends by "
                    "the discharge date, or starts on it)", "fhir_medication_group")
    return None


def _medication_name(reading: Reading, entry: Entry) -> str | None:
    m = entry.resource
    name = text_of(m.medicationCodeableConcept)
    if not name and m.medicationReference is not None:
        target = reading.resolve(m.medicationReference)
        name = text_of(target.resource.code) if target is not None and target.type == "Medication" else None
        name = name or m.medicationReference.display
    return name


def _medication(reading: Reading, entry: Entry) -> dict[str, Any] | None:
    path = entry.path
    name = _medication_name(reading, entry)
    if not name:
        reading.problem(f"{path}.medicationCodeableConcept", "the medication needs a name "
                        "(medicationCodeableConcept.text, or a Medication with code.text)")
        return None
    element = "dosageInstruction" if entry.type == "MedicationRequest" else "dosage"
    dosages = getattr(entry.resource, element) or []
    if len(dosages) != 1:
        reading.problem(f"{path}.{element}", "exactly one dosage per medication: dose, route and timing "
                        "(send one resource per step of a changing dose)")
        return None
    dosage, at = dosages[0], f"{path}.{element}[0]"
    med: dict[str, Any] = {"name": name}
    quantity = dosage.doseAndRate[0].doseQuantity if dosage.doseAndRate else None
    combination = next((x.valueString for x in (dosage.doseAndRate[0].extension or [])
                        if x.url == codes.EXT_COMBINATION_DOSE), None) if dosage.doseAndRate else None
    if combination:
        med["dose"] = combination
    elif quantity is not None and quantity.value is not None:
        med["dose"] = str(quantity.value)
    else:
        reading.problem(f"{at}.doseAndRate", "the dosage needs doseAndRate[0].doseQuantity with value and unit")
    unit = (quantity.unit or quantity.code) if quantity is not None else None
    if unit:
        med["unit"] = unit
    elif "dose" in med:
        reading.problem(f"{at}.doseAndRate[0].doseQuantity.unit", "the dose needs a unit (mg, g, mcg, UI, mL...)")
    route = _route(dosage.route)
    if route is None:
        reading.problem(f"{at}.route", "the dosage needs a route: text as Alta writes it (oral, intravenosa...) "
                        "or a SNOMED CT route code")
    else:
        med["route"] = route.value
    frequency = (dosage.timing.code.text if dosage.timing and dosage.timing.code else None) \
        or frequency_from_timing(dosage.timing) or dosage.text
    if frequency:
        med["frequency"] = frequency
    else:
        reading.problem(f"{at}.timing", "the dosage needs timing (code.text, or repeat with frequency and period)")
    duration = next((x.valueString for x in dosage.extension or [] if x.url == codes.EXT_DURATION), None)
    repeat = dosage.timing.repeat if dosage.timing else None
    duration = duration or duration_from_bounds(repeat.boundsDuration if repeat else None)
    if duration:
        med["duration"] = duration
    return med


def _route(concept: Any) -> Route | None:
    if concept is None:
        return None
    if concept.text and concept.text.strip().lower() in ROUTES:
        return ROUTES[concept.text.strip().lower()]
    for system, code in codings(concept):
        if system in (codes.SNOMED, None) and code in codes.ROUTE_BY_SNOMED:
            return codes.ROUTE_BY_SNOMED[code]
    return None
