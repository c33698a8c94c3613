"""The entries of the synthetic-data catalog: one frozen dataclass per table row, with the draws they own.

A :class:`Medication` knows how to turn itself into a prescription (weight-based doses for children)
and a :class:`Lab` how to draw and write a result (decimal comma, thousands with a dot), so that the
generator only decides *which* entries a stay gets.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from clinical.record import Route
from clinical.writer.spanish import format_decimal


@dataclass(frozen=True)
class Pick:
    """One slot of a family's list: pick one of ``options``; ``optional`` slots may be left out."""

    options: tuple[str, ...]
    optional: bool = False
    directions: tuple[str, ...] = ()  # labs only: "+", "-" or "" per option (the expected abnormality)


@dataclass(frozen=True)
class Service:
    key: str
    names: dict[str, str]
    ages: tuple[int, int]
    weight: float
    follow_up: dict[str, str]


@dataclass(frozen=True)
class Diagnosis:
    code: str
    description: str  # the CIE-10 title
    clinical: str  # how a clinician writes it in a discharge summary
    family: str
    principal: bool
    services: tuple[str, ...]
    sex: str | None  # "F", "M" or None for either
    ages: tuple[int, int]
    age_mode: int | None
    weight: float
    prefer: frozenset[str]  # catalog ids this diagnosis calls for (forces optional slots)
    avoid: frozenset[str]  # catalog ids that do not fit this diagnosis
    lab_directions: dict[str, str]  # labs this diagnosis makes abnormal ("orina+" in prefer)
    origin: str | None


@dataclass(frozen=True)
class Procedure:
    id: str
    names: dict[str, str]
    code: str | None
    kind: str
    when: str
    ages: frozenset[str]
    implies: str  # a lab result the procedure implies ("hemoglobina-" for a transfusion), or ""


@dataclass(frozen=True)
class Medication:
    id: str
    name: str
    doses: tuple[tuple[Decimal, str], ...]  # (dose, unit); the dose is 0 when per_kg decides it
    route: Route
    frequencies: tuple[str, ...]
    durations: tuple[str | None, ...]
    group: str
    ages: frozenset[str]
    per_kg: Decimal | None
    max_dose: Decimal | None
    allergy: str | None
    country: str | None
    exclusive: str | None  # at most one drug of this class per prescription list (ARA II or IECA...)
    drug: str = ""  # canonical name in clinical/lexicon, filled in at load time
    drug_group: str = ""  # the lexicon's therapeutic group ("antibiótico", "IECA"...)

    def prescribe(self, rng: random.Random, weight_kg: float) -> dict[str, str]:
        """A prescription as a record holds it; per-kilogram doses rounded the way wards round them."""
        dose, unit = rng.choice(self.doses)
        if self.per_kg is not None:
            exact = self.per_kg * Decimal(str(round(weight_kg, 1)))
            exact = min(exact, self.max_dose) if self.max_dose is not None else exact
            step = Decimal(10) if exact >= 100 else Decimal(1) if exact >= 10 else Decimal("0.1")
            dose = max(step, (exact / step).quantize(Decimal(1), ROUND_HALF_UP) * step)
        item = {"name": self.name, "dose": format(dose.normalize(), "f"), "unit": unit, "route": self.route.value,
                "frequency": rng.choice(self.frequencies)}
        duration = rng.choice(self.durations)
        return item | ({"duration": duration} if duration else {})


@dataclass(frozen=True)
class Lab:
    id: str
    names: dict[str, str]
    unit: str | None
    normal: tuple[str, ...]  # numeric labs: ("lo", "hi"); text labs: the normal results
    low: tuple[str, ...]
    high: tuple[str, ...]
    fmt: str  # decimals ("0", "1", "2"), "k" (thousands with a dot) or "text"

    def draw(self, rng: random.Random, direction: str = "") -> str | float:
        """A result: a number for numeric labs, the text for text labs.

        ``direction`` ("+" or "-") is the abnormality the disease causes; without one the result is
        normal but for the occasional incidental, mildly abnormal value.
        """
        if self.fmt == "text":
            abnormal = bool(self.high) and rng.random() < (0.95 if direction else 0.1)
            return rng.choice(self.high if abnormal else self.normal)
        n_lo, n_hi = (_float(x) for x in self.normal)
        sides = {"+": self.high, "-": self.low}
        lo, hi = (_float(x) for x in (sides[direction] if direction and sides[direction] and rng.random() < 0.95
                                      else self.normal))
        if not direction and rng.random() < 0.06:
            lo, hi = rng.choice(((n_hi * 1.05, n_hi * 1.3), (n_lo * 0.8, n_lo * 0.95))[: 2 if n_lo > 0 else 1])
        return rng.uniform(lo, hi)

    def recovered(self, value: float, share: float) -> float:
        """A control result: ``value`` moved ``share`` (0-1) of the way back into the normal range."""
        n_lo, n_hi = (_float(x) for x in self.normal)
        return value + (min(max(value, n_lo), n_hi) - value) * share

    def result(self, value: str | float) -> tuple[str, bool]:
        """The value as the report writes it, and whether it is abnormal."""
        if isinstance(value, str):
            return value, value not in self.normal
        n_lo, n_hi = (_float(x) for x in self.normal)
        text = self.format(value)
        return text, not n_lo <= _float(text.replace(".", "") if self.fmt == "k" else text) <= n_hi

    def format(self, value: float) -> str:
        """A numeric result as Chilean and Mexican reports write it: ``8,9``, ``15.800``, ``245.000``."""
        if self.fmt == "k":  # three significant digits, thousands separated by a dot
            number = int(round(value, -max(0, len(str(int(abs(value)))) - 3)))
            return f"{number:,}".replace(",", ".")
        return format_decimal(Decimal(str(value)).quantize(Decimal(1).scaleb(-int(self.fmt)), ROUND_HALF_UP))


@dataclass(frozen=True)
class Family:
    key: str
    story: str
    los: tuple[int, int]
    origins: tuple[tuple[str, float], ...]
    severity: str
    procedures: tuple[Pick, ...]
    inpatient: tuple[Pick, ...]
    discharge: tuple[Pick, ...]
    labs: tuple[Pick, ...]
    vitals: frozenset[str]
    instructions: tuple[Pick, ...]
    follow_ups: tuple[Pick, ...]
    secondary: tuple[Pick, ...]
    weeks: tuple[int, int] | None  # gestational age range, obstetric families only


@dataclass(frozen=True)
class Comorbidity:
    code: str
    history: dict[str, str]
    treatments: tuple[tuple[str, ...], ...]  # alternative regimens, each one or more medication ids
    ages: tuple[int, int]
    sex: str | None
    weight: float
    in_pregnancy: bool


@dataclass(frozen=True)
class SurgicalHistory:
    text: dict[str, str]
    sex: str | None
    ages: tuple[int, int]
    with_year: bool
    excludes: frozenset[str]


@dataclass(frozen=True)
class Allergen:
    substance: str
    classes: frozenset[str]
    reactions: tuple[str | None, ...]


@dataclass(frozen=True)
class Story:
    story: str
    kind: str
    ages: str
    country: str
    text: str


@dataclass(frozen=True)
class Catalog:
    """Everything the generator draws from, keyed for lookup."""

    services: dict[str, Service]
    diagnoses: dict[str, Diagnosis]
    procedures: dict[str, Procedure]
    medications: dict[str, Medication]
    labs: dict[str, Lab]
    families: dict[str, Family]
    comorbidities: tuple[Comorbidity, ...]
    surgical_history: tuple[SurgicalHistory, ...]
    allergens: tuple[Allergen, ...]
    instructions: dict[str, dict[str, str]]
    note_codes: dict[str, tuple[str, ...]]  # follow-up note key -> CIE-10 prefixes it fits ("" = any stay)
    terms: dict[str, dict[str, str]]  # country wording of story placeholders ({o2}: naricera / puntas nasales)
    specialties: dict[str, str]  # Chilean name -> Mexican name
    stories: dict[tuple[str, str], tuple[Story, ...]]
    names: dict[tuple[str, str], tuple[str, ...]]  # (country, "female"|"male"|"surname")
    places: dict[tuple[str, str], tuple[str, ...]]  # (country, "aps"|"hospital"|"clinic")


def _float(text: str) -> float:
    return float(text.replace(",", "."))
