"""A FHIR R4 Bundle (transaction, collection, batch or searchset) in, a hospital-stay record out.

The Bundle is parsed and validated by ``fhir.resources`` (R4B models, see ``codes``); this module
only places what the models hold into the record. Every problem is collected and raised at once
as :class:`FhirMappingError`, each naming its element (``Bundle.entry[3].resource.code``) and
never a value. The record's own rules run last; their errors are traced back to the element the
field came from where there is one.

The stay is the Bundle's one Encounter (or its one inpatient Encounter, class IMP/ACUTE/...).
Resources linked to another Encounter belong to another stay and are not read; resources of the
types in ``CONTEXT_TYPES`` are references' targets or billing and are not read either; any other
resource type is refused, so nothing clinical is dropped silently.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError

from clinical.fhir import resources_in
from clinical.fhir.codes import INPATIENT_CLASSES
from clinical.fhir.errors import FhirMappingError, Problem, fhir_path
from clinical.fhir.read_helpers import in_stay
from clinical.record import HospitalStay, field_errors

# Read for what references point at, or not clinical content of a stay: never refused, never read.
CONTEXT_TYPES = frozenset({
    "Organization", "Practitioner", "PractitionerRole", "Location", "Device", "Medication", "Provenance",
    "Claim", "ExplanationOfBenefit", "Coverage", "CareTeam", "DiagnosticReport", "DocumentReference",
    "SupplyDelivery", "ImagingStudy", "HealthcareService", "RelatedPerson",
})
# Linked to the stay (or to no Encounter) and mapped by ``resources_in``.
MAPPED_TYPES = frozenset({
    "Patient", "Encounter", "Condition", "Procedure", "MedicationRequest", "MedicationStatement",
    "AllergyIntolerance", "Observation", "Appointment", "ServiceRequest", "CarePlan", "ClinicalImpression",
})
MAX_ENTRIES = 2_000


@dataclass
class Entry:
    index: int
    resource: Any  # a fhir.resources R4B model
    type: str

    @property
    def path(self) -> str:
        return f"Bundle.entry[{self.index}].resource"


@dataclass
class Reading:
    """What the readers build: the record as a JSON-like dict, where each field came from, problems."""

    entries: list[Entry]
    by_reference: dict[str, Entry]
    record: dict[str, Any] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)  # "diagnoses[0].code" -> FHIR path
    problems: list[Problem] = field(default_factory=list)
    encounter: Entry | None = None
    patient: Entry | None = None

    def problem(self, loc: str, msg: str, kind: str = "fhir_unmapped") -> None:
        self.problems.append({"loc": loc, "msg": msg, "type": kind})

    def resolve(self, reference: Any) -> Entry | None:
        ref = getattr(reference, "reference", None)
        return self.by_reference.get(ref) if ref else None

    def of_type(self, *types: str) -> list[Entry]:
        return [e for e in self.entries if e.type in types]


def bundle_to_record(data: Mapping[str, Any] | str | bytes, *, context: dict[str, Any] | None = None) -> HospitalStay:
    """The hospital stay a FHIR R4 Bundle describes; :class:`FhirMappingError` when it cannot be read.

    ``context`` is passed to the record's validation (tests pin ``{"today": date}``).
    """
    reading = read_bundle(data)
    try:
        return HospitalStay.model_validate(reading.record, context=context)
    except ValidationError as exc:
        raise FhirMappingError(_record_problems(reading, exc)) from None


def read_bundle(data: Mapping[str, Any] | str | bytes) -> Reading:
    """The Bundle parsed, validated and placed into a record dict (not yet validated as a record)."""
    if isinstance(data, (str, bytes)):
        try:
            data = json.loads(data)
        except ValueError:
            raise FhirMappingError([{"loc": "Bundle", "msg": "not JSON text", "type": "json_invalid"}]) from None
    bundle = _parse(data)
    entries: list[Entry] = []
    by_reference: dict[str, Entry] = {}
    for i, raw in enumerate(bundle.entry or []):
        entry = Entry(i, raw.resource, raw.resource.get_resource_type())
        entries.append(entry)
        if raw.fullUrl:
            by_reference[raw.fullUrl] = entry
        if entry.resource.id:
            by_reference[f"{entry.type}/{entry.resource.id}"] = entry
    reading = Reading(entries, by_reference)
    _find_stay(reading)
    if reading.problems:
        raise FhirMappingError(reading.problems)
    _refuse_unmapped(reading)
    resources_in.read_all(reading)
    if reading.problems:
        raise FhirMappingError(reading.problems)
    return reading


def _parse(data: Any) -> Bundle:
    if not isinstance(data, Mapping) or data.get("resourceType") != "Bundle":
        raise FhirMappingError([{"loc": "Bundle.resourceType", "type": "fhir_not_bundle",
                                 "msg": "expected a FHIR R4 Bundle (resourceType 'Bundle') around one Encounter"}])
    raw_entries = data.get("entry")
    if not isinstance(raw_entries, list) or not raw_entries:
        raise FhirMappingError([{"loc": "Bundle.entry", "type": "fhir_empty",
                                 "msg": "the Bundle has no entries; send Patient, Encounter and Condition resources"}])
    if len(raw_entries) > MAX_ENTRIES:
        raise FhirMappingError([{"loc": "Bundle.entry", "type": "fhir_too_large",
                                 "msg": f"at most {MAX_ENTRIES} entries; send one stay's resources"}])
    problems: list[Problem] = []
    for i, raw in enumerate(raw_entries):
        resource = raw.get("resource") if isinstance(raw, Mapping) else None
        kind = resource.get("resourceType") if isinstance(resource, Mapping) else None
        if not isinstance(kind, str) or not _known_type(kind):
            problems.append({"loc": f"Bundle.entry[{i}].resource.resourceType", "type": "fhir_unknown_type",
                             "msg": "not a FHIR R4 resource type"})
    if problems:
        raise FhirMappingError(problems)
    try:
        return Bundle.model_validate(data)
    except ValidationError as exc:
        raise FhirMappingError([
            {"loc": fhir_path(tuple(e["loc"])), "msg": e["msg"], "type": f"fhir_{e['type']}"} for e in exc.errors()
        ]) from None


def _known_type(kind: str) -> bool:
    try:
        get_fhir_model_class(kind)
    except (ValueError, KeyError):
        return False
    return kind[:1].isupper()


def _find_stay(reading: Reading) -> None:
    encounters = reading.of_type("Encounter")
    if len(encounters) > 1:
        encounters = [e for e in encounters if getattr(e.resource.class_fhir, "code", None) == "IMP"] or [
            e for e in encounters if getattr(e.resource.class_fhir, "code", None) in INPATIENT_CLASSES]
    if len(encounters) != 1:
        reading.problem("Bundle.entry", "the Bundle needs exactly one Encounter (or one inpatient Encounter, "
                        "class IMP) for the stay", "fhir_encounter")
        return
    reading.encounter = encounters[0]
    patient = reading.resolve(reading.encounter.resource.subject)
    if patient is None or patient.type != "Patient":
        patients = reading.of_type("Patient")
        patient = patients[0] if len(patients) == 1 else None
    if patient is None:
        reading.problem(f"{reading.encounter.path}.subject", "Encounter.subject must reference the Bundle's "
                        "Patient (by fullUrl or Patient/id)", "fhir_patient")
        return
    reading.patient = patient


def _refuse_unmapped(reading: Reading) -> None:
    for entry in reading.entries:
        if entry.type in MAPPED_TYPES or entry.type in CONTEXT_TYPES:
            continue
        if in_stay(reading, entry, default=True):
            reading.problem(f"{entry.path}.resourceType",
                            f"{entry.type} is not mapped to the hospital-stay record; leave it out of the Bundle "
                            "(see the README's FHIR mapping table)", "fhir_type_unmapped")


def _record_problems(reading: Reading, exc: ValidationError) -> list[Problem]:
    """The record's validation errors, at the FHIR element each field came from where known."""
    out: list[Problem] = []
    for err in field_errors(exc.errors()):
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".")
        loc = f"record.{path}" if path else "record"
        probe = path
        while probe:
            if probe in reading.origins:
                loc = reading.origins[probe]
                break
            probe = probe.rsplit("[", 1)[0] if probe.endswith("]") else probe.rpartition(".")[0]
        out.append({"loc": loc, "msg": err["msg"], "type": err["type"] or "value_error"})
    return out
