"""Deterministic Spanish epicrisis writer: turns a ``HospitalStay`` into the sections of an informe de alta.

The wording lives in ``templates/*.j2`` (one template per section) and ``spanish.py``; this module
only chooses and orders the data each template sees. The same record always renders to the same
bytes: nothing reads the clock, the locale or an unordered collection.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from importlib import resources

import jinja2

from clinical.record import DischargeCondition, FollowUp, HospitalStay, Lab
from clinical.writer import spanish

__all__ = ["Section", "render_sections", "render_epicrisis", "TEMPLATE_VERSION", "SECTION_KEYS"]

# Order of the sections in a Chilean epicrisis; also the template file names.
SECTION_KEYS = (
    "identificacion",
    "motivo",
    "antecedentes",
    "diagnosticos",
    "procedimientos",
    "evolucion",
    "examenes",
    "tratamiento_hospitalizacion",
    "tratamiento_alta",
    "indicaciones",
    "controles",
)


@dataclass(frozen=True)
class Section:
    """One section of an epicrisis: a stable key, its uppercase heading and its plain-text body."""

    key: str
    title: str
    body: str


def _template_version() -> str:
    """Hash of the templates and the writer's code, so provenance changes when the wording does."""
    package = resources.files(__package__)
    digest = hashlib.sha256()
    templates = sorted(
        (f for f in package.joinpath("templates").iterdir() if f.name.endswith(".j2")),
        key=lambda f: f.name,
    )
    for template in templates:
        digest.update(template.read_bytes())
    digest.update(package.joinpath("spanish.py").read_bytes())
    digest.update(package.joinpath("__init__.py").read_bytes())
    return digest.hexdigest()[:12]


TEMPLATE_VERSION: str = _template_version()


@functools.cache
def _environment() -> jinja2.Environment:
    """The one jinja2 environment: plain text (no autoescape), strict about undefined names."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader(__package__, "templates"),
        autoescape=False,  # plain text, not HTML: escaping would corrupt "<" in lab values
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(spanish.filters())
    env.globals["plural"] = spanish.plural
    return env


def _labs_by_day(labs: list[Lab]) -> list[tuple[object, list[Lab]]]:
    """Labs grouped by the day they were taken, days in order, record order kept within a day."""
    days: dict[object, list[Lab]] = {}
    for lab in sorted(labs, key=lambda lab: lab.taken_on):  # sorted() is stable
        days.setdefault(lab.taken_on, []).append(lab)
    return list(days.items())


def _follow_up_order(fu: FollowUp) -> tuple[bool, object]:
    # Dated appointments first, by date; undated ones after, in the order the record gives them.
    return (fu.date is None, fu.date or 0)


def _context(stay: HospitalStay) -> dict[str, object]:
    """What the templates see: the record plus the selections and orderings they should not compute."""
    # Wall-clock comparison: a record may mix naive and timezone-aware times, which cannot be compared.
    vitals = sorted(stay.vital_signs, key=lambda v: v.taken_at.replace(tzinfo=None))
    admitted = stay.admission.admitted_at.date()
    return {
        "stay": stay,
        "w": spanish.Wording(stay.patient.sex),
        "deceased": stay.discharge.condition is DischargeCondition.DECEASED,
        "age": spanish.format_age(stay.age_at_admission, stay.patient.birth_date, admitted),
        "length": spanish.days_phrase(stay.length_of_stay_days),
        "diagnoses": [stay.principal_diagnosis, *stay.secondary_diagnoses],
        "procedures": sorted(stay.procedures, key=lambda p: p.performed_on),
        "lab_days": _labs_by_day(stay.labs),
        "first_vitals": vitals[0] if vitals else None,
        "last_vitals": vitals[-1] if len(vitals) > 1 else None,
        "follow_ups": sorted(stay.follow_ups, key=_follow_up_order),
    }


def render_sections(stay: HospitalStay) -> list[Section]:
    """The epicrisis as sections, in order; a section with nothing to say is left out entirely."""
    env = _environment()
    context = _context(stay)
    sections = []
    for key in SECTION_KEYS:
        text = env.get_template(f"{key}.j2").render(context)
        # Trailing spaces and stray blank lines would make the plain-text layout ambiguous.
        body = "\n".join(line for line in (raw.rstrip() for raw in text.splitlines()) if line)
        if body:
            sections.append(Section(key=key, title=spanish.SECTION_TITLES[key], body=body))
    return sections


def render_epicrisis(stay: HospitalStay) -> str:
    """The whole epicrisis as plain text: heading line, body, a blank line between sections."""
    return "\n\n".join(f"{s.title}\n{s.body}" for s in render_sections(stay)) + "\n"
