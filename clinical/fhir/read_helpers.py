"""What every resource reader needs: words and codes of a CodeableConcept, dates, the stay's entries."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from clinical.fhir.bundle_in import Entry, Reading

SKIP_STATUS = frozenset({"entered-in-error", "cancelled", "revoked", "not-done", "refuted"})


def text_of(concept: Any) -> str | None:
    """A CodeableConcept's words: its text, else the first coding's display."""
    if concept is None:
        return None
    if concept.text:
        return concept.text
    return next((c.display for c in concept.coding or [] if c.display), None)


def codings(concept: Any) -> list[tuple[str | None, str | None]]:
    return [(c.system, c.code) for c in (concept.coding or [])] if concept is not None else []


def has_code(concepts: Any, system: str | None, *values: str) -> bool:
    items = concepts if isinstance(concepts, list) else [concepts]
    return any(code in values and (system is None or s == system) for cc in items for s, code in codings(cc))


def status(entry: Entry) -> str | None:
    status = getattr(entry.resource, "status", None)
    verification = getattr(entry.resource, "verificationStatus", None)
    if verification is not None and has_code(verification, None, "entered-in-error", "refuted"):
        return "entered-in-error"
    return status


def encounter_ref(entry: Entry) -> Any:
    resource = entry.resource
    return getattr(resource, "encounter", None) or getattr(resource, "context", None)


def in_stay(reading: Reading, entry: Entry, *, default: bool = True) -> bool:
    """Whether a resource is part of the stay: linked to its Encounter, or to none (``default``)."""
    ref = encounter_ref(entry)
    if ref is None or not getattr(ref, "reference", None):
        return default
    return reading.resolve(ref) is reading.encounter


def linked(reading: Reading, entry: Entry) -> bool:
    ref = encounter_ref(entry)
    return ref is not None and reading.resolve(ref) is reading.encounter


def stay_entries(reading: Reading, *types: str) -> list[Entry]:
    return [e for e in reading.of_type(*types) if in_stay(reading, e) and status(e) not in SKIP_STATUS]


def date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None).date()
    if isinstance(value, dt.date):
        return value
    return None


def wall(value: Any) -> dt.datetime | None:
    """A FHIR dateTime as the hospital's wall-clock time: Alta's records carry no time zone."""
    return value.replace(tzinfo=None) if isinstance(value, dt.datetime) else None


def put(reading: Reading, record_path: str, fhir: str) -> None:
    reading.origins[record_path] = fhir
