"""Everything a draft may say about a stay, indexed by record field: the closed world of a review.

A fact in a draft is traced when it equals a value of the record or one the record derives (the
length of the stay, the age at admission, a per-kg dose for this weight, a count of procedures);
each value keeps the path of the field it came from, so the page can show the source.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from clinical.extract import find_dates, normalise_unit, parse_number
from clinical.lexicon import DrugLexicon, fold
from clinical.record import DischargeCondition, HospitalStay, Medication, dose_parts
from clinical.writer.spanish import format_age, per_kg_total

__all__ = ["MedicationEntry", "RecordIndex", "number_value"]

# Free-text fields a draft may repeat word for word. Structured values (drugs, doses, routes, dates,
# enums) are never "copied text": each is checked as the fact it is.
_COPYABLE = re.compile(
    r"^(admission\.(reason|service)|evolution|medical_history\[\d+\]|surgical_history\[\d+\]"
    r"|discharge_instructions\[\d+\]|follow_ups\[\d+\]\.(notes|place|specialty)"
    r"|allergies\[\d+\]\.(reaction|substance)|diagnoses\[\d+\]\.description"
    r"|procedures\[\d+\]\.description|labs\[\d+\]\.name)$"
)
_NUMBER = re.compile(r"(?<![\w.,])\d+(?:[.,]\d+)*")


def number_value(digits: str) -> Decimal | None:
    try:
        return parse_number(digits)
    except (InvalidOperation, ValueError):
        return None


def _norm(text: str) -> str:
    folded, _ = fold(text)
    return " ".join(re.sub(r"[^\w/]+", " ", folded).split())


@dataclass(frozen=True)
class MedicationEntry:
    path: str  # "discharge_medications[0]"
    section: str  # "tratamiento_alta" | "tratamiento_hospitalizacion"
    med: Medication
    drugs: frozenset[str]  # canonical lexicon names
    name: str  # normalised name
    doses: tuple[Decimal, ...]  # the amounts the draft may write: the dose, and a per-kg total
    unit: str  # normalised unit


@dataclass
class RecordIndex:
    stay: HospitalStay
    lexicon: DrugLexicon
    numbers: dict[Decimal, str] = field(default_factory=dict)
    dates: dict[dt.date, str] = field(default_factory=dict)
    day_months: dict[tuple[int, int], str] = field(default_factory=dict)
    yearless: set[tuple[int, int]] = field(default_factory=set)  # "13 de enero" without a year in the notes
    texts: list[tuple[str, str]] = field(default_factory=list)  # (record text, field)
    copyable: list[tuple[str, str]] = field(default_factory=list)
    medications: list[MedicationEntry] = field(default_factory=list)
    drugs: dict[str, str] = field(default_factory=dict)  # canonical drug -> field
    all_text_norm: str = ""
    name_words: frozenset[str] = frozenset()
    identifiers: dict[str, str] = field(default_factory=dict)  # normalised value -> field

    def __post_init__(self) -> None:
        stay = self.stay
        self._identity()
        self._walk(stay.model_dump(mode="python"), "")
        self._medications()
        self._derived()
        self.all_text_norm = " " + " ".join(_norm(t) for t, _ in self.texts) + " "
        for text, path in self.texts:
            for mention in self.lexicon.find(text):
                self.drugs.setdefault(mention.canonical, path)
            for mention in find_dates(text, pivot_year=stay.discharge.discharged_on.year):
                if mention.date is not None:
                    self.dates.setdefault(mention.date, path)
                else:
                    self.yearless.add((mention.day, mention.month))
                self.day_months.setdefault((mention.day, mention.month), path)
            for match in _NUMBER.finditer(text):
                value = number_value(match.group())
                if value is not None:
                    self.numbers.setdefault(value, path)

    # --- building ---------------------------------------------------------------------------

    def _identity(self) -> None:
        patient = self.stay.patient
        self.name_words = frozenset(_norm(patient.name).split())
        for i, ident in enumerate(patient.identifiers):
            self.identifiers[normalise_identifier(ident.value)] = f"patient.identifiers[{i}].value"

    def _walk(self, value: object, path: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                self._walk(item, f"{path}.{key}" if path else key)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                self._walk(item, f"{path}[{i}]")
        elif isinstance(value, dt.datetime):
            self._date(value.date(), path)
            self.numbers.setdefault(Decimal(value.hour), path)
            self.numbers.setdefault(Decimal(value.minute), path)
        elif isinstance(value, dt.date):
            self._date(value, path)
        elif isinstance(value, bool) or value is None:
            return
        elif isinstance(value, (int, Decimal)):
            self.numbers.setdefault(Decimal(value), path)
        elif isinstance(value, str):
            if path in ("patient.name",) or path.startswith("patient.identifiers"):
                for match in _NUMBER.finditer(value):  # identifiers' digit groups are record numbers
                    number = number_value(match.group())
                    if number is not None:
                        self.numbers.setdefault(number, path)
                return
            self.texts.append((value, path))
            for part in dose_parts_of(value):
                self.numbers.setdefault(part, path)
            if _COPYABLE.match(path):
                for sentence in re.split(r"(?<=[.;])\s+|\n+", value):
                    sentence = " ".join(sentence.split()).rstrip(".;")
                    if len(sentence) >= 8:
                        self.copyable.append((sentence, path))

    def _date(self, value: dt.date, path: str) -> None:
        self.dates.setdefault(value, path)
        self.day_months.setdefault((value.day, value.month), path)
        for part in (value.day, value.month, value.year):
            self.numbers.setdefault(Decimal(part), path)

    def _medications(self) -> None:
        weight = self.stay.patient.weight_kg
        for group, section in (("inpatient_medications", "tratamiento_hospitalizacion"),
                               ("discharge_medications", "tratamiento_alta")):
            for i, med in enumerate(getattr(self.stay, group)):
                path = f"{group}[{i}]"
                canonical = self.lexicon.canonical(med.name)
                drugs = {canonical} if canonical else {m.canonical for m in self.lexicon.find(med.name)}
                doses = list(dose_parts(med.dose))
                total = per_kg_total(med, weight)
                if total is not None:
                    doses.append(total[0])
                    self.numbers.setdefault(total[0], f"{path}.dose")
                entry = MedicationEntry(path, section, med, frozenset(drugs), _norm(med.name), tuple(doses),
                                        normalise_unit(med.unit))
                self.medications.append(entry)
                for drug in drugs:
                    self.drugs.setdefault(drug, f"{path}.name")

    def _derived(self) -> None:
        stay = self.stay
        self.numbers.setdefault(Decimal(stay.length_of_stay_days), "discharge.discharged_on")
        self.numbers.setdefault(Decimal(stay.age_at_admission), "patient.age_at_admission")
        age_phrase = self.age_phrase
        for match in _NUMBER.finditer(age_phrase):
            self.numbers.setdefault(Decimal(match.group()), "patient.age_at_admission")
        for count, path in ((len(stay.procedures), "procedures"), (len(stay.diagnoses), "diagnoses"),
                            (len(stay.discharge_medications), "discharge_medications"),
                            (len(stay.inpatient_medications), "inpatient_medications")):
            self.numbers.setdefault(Decimal(count), path)

    # --- queries ----------------------------------------------------------------------------

    @property
    def age_phrase(self) -> str:
        stay = self.stay
        return format_age(stay.age_at_admission, stay.patient.birth_date, stay.admission.admitted_at.date())

    @property
    def deceased(self) -> bool:
        return self.stay.discharge.condition is DischargeCondition.DECEASED

    def mentions(self, phrase: str) -> bool:
        """Whether the record's text holds this phrase (normalised, whole words)."""
        needle = _norm(phrase)
        return bool(needle) and f" {needle} " in self.all_text_norm

    def drug_field(self, canonical: str) -> str | None:
        """The record field that justifies mentioning this drug (itself, a component, a generic)."""
        for known, path in self.drugs.items():
            if self.lexicon.covers(known, canonical):
                return path
        return None


def normalise_identifier(value: str) -> str:
    return re.sub(r"[\s.\-]", "", value).upper()


def dose_parts_of(text: str) -> list[Decimal]:
    """The amounts of a combination written in text ("875/125")."""
    out = []
    for match in re.finditer(r"\d+(?:[.,]\d+)?(?:/\d+(?:[.,]\d+)?)+", text):
        for part in match.group().split("/"):
            value = number_value(part)
            if value is not None:
                out.append(value)
    return out
