"""The error a Bundle the mapping cannot read raises: every problem, each naming where it is."""

from __future__ import annotations

from typing import TypedDict


class Problem(TypedDict):
    """One problem: ``loc`` is a FHIRPath-like location (``Bundle.entry[3].resource.code``), or
    ``record.<field>`` when a record rule has no single FHIR element to blame. ``msg`` says what to
    change; neither repeats a value from the Bundle (it may be a patient's name or identifier)."""

    loc: str
    msg: str
    type: str


class FhirMappingError(ValueError):
    """A Bundle that cannot become a hospital-stay record; ``problems`` lists every reason found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__(f"{len(problems)} problems in the FHIR Bundle; first at {problems[0]['loc']}")


def fhir_path(loc: tuple[str | int, ...] | list[str | int], root: str = "Bundle") -> str:
    """('entry', 3, 'resource', 'code') -> 'Bundle.entry[3].resource.code'."""
    out = root
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out
