"""Output checks: compare a discharge-summary draft with the record it was written from.

A draft may come from a template, a fine-tuned model or a clinician's edit; whichever it is, before
it is signed we want to know (1) what the record says that the draft leaves out: a diagnosis, a
procedure, a discharge medication; and (2) what the draft says that the record does not: a drug, a
dose or a date that appears nowhere in the record, the typical hallucinations of a language model.

The checks are lexical and deliberately conservative about "unknown": anything mentioned anywhere
in the record (an allergy to penicilina, "usuaria de losartán" in the history, a date in the
evolution notes) is allowed in the draft. A finding is a prompt for a human to look, not a verdict.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from clinical.extract import base_unit, find_dates, find_doses, normalise_unit
from clinical.lexicon import DrugLexicon, fold, load_lexicon
from clinical.record import HospitalStay, Medication

__all__ = ["CheckReport", "Finding", "FindingKind", "check_draft"]

logger = logging.getLogger(__name__)

FindingKind = Literal[
    "missing_diagnosis",
    "missing_procedure",
    "missing_discharge_medication",
    "unknown_drug",
    "unknown_dose",
    "unknown_date",
]


@dataclass(frozen=True)
class Finding:
    """One problem: a record item missing from the draft, or a draft item absent from the record."""

    kind: FindingKind
    text: str  # the record item's description/name, or what was found in the draft
    field: str | None = None  # record path of a missing item, e.g. "diagnoses[1]"
    start: int | None = None  # character span in the draft, for unknown_* findings
    end: int | None = None


@dataclass(frozen=True)
class CheckReport:
    """All findings of one draft: missing record items first (record order), then unknown ones."""

    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return not self.findings

    def missing(self) -> list[Finding]:
        return [f for f in self.findings if f.kind.startswith("missing_")]

    def unknown(self) -> list[Finding]:
        return [f for f in self.findings if f.kind.startswith("unknown_")]

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "findings": [
                {"kind": f.kind, "text": f.text, "field": f.field, "start": f.start, "end": f.end}
                for f in self.findings
            ],
        }


# Words that carry no meaning of their own in a diagnosis ("Neumonía adquirida en la comunidad").
_STOPWORDS = frozenset(
    "a al con de del e el en la las lo los o para por sin su sus u un una unos unas y que se no".split()
)


def _normalise(text: str) -> str:
    """Folded text with punctuation turned into spaces: what descriptions are compared on."""
    folded, _ = fold(text)
    return " ".join(re.sub(r"[^\w]+", " ", folded).split())


def _contains_phrase(haystack_normalised: str, phrase: str) -> bool:
    needle = _normalise(phrase)
    return bool(needle) and f" {needle} " in f" {haystack_normalised} "


def _stem(word: str) -> str:
    """Crude plural folding so that "hemocultivo" matches "hemocultivos" and "lesión" "lesiones"."""
    if len(word) > 4 and word.endswith("es"):
        return word[:-2]
    if len(word) > 3 and word.endswith("s"):
        return word[:-1]
    return word


def _content_words(text: str) -> frozenset[str]:
    return frozenset(_stem(w) for w in _normalise(text).split() if w not in _STOPWORDS)


def _segments(text: str) -> list[frozenset[str]]:
    """The draft's sentences and lines as sets of content words. A period only ends a sentence
    when followed by whitespace, so codes like "J18.9" and "0,5" stay whole."""
    return [_content_words(s) for s in re.split(r"\n+|(?<=[.;!?])\s+", text) if s.strip()]


def _code_pattern(code: str) -> re.Pattern[str]:
    # "J18.9" also matches "J189"; neither matches inside "J18.90" or a longer code.
    body = r"\.?".join(re.escape(part) for part in code.split("."))
    return re.compile(r"(?<![0-9A-Za-z])" + body + r"(?![0-9A-Za-z]|\.[0-9A-Za-z])", re.IGNORECASE)


class _Draft:
    """The draft text, pre-processed once for all the presence checks."""

    def __init__(self, text: str, lexicon: DrugLexicon):
        self.text = text
        self.normalised = _normalise(text)
        self.segments = _segments(text)
        self.drugs = lexicon.find(text)

    def mentions_item(self, description: str, code: str | None) -> bool:
        """A diagnosis or procedure is present by code, by its whole description, or by all of
        its content words inside one sentence or line (word order and stopwords ignored)."""
        if code and _code_pattern(code).search(self.text):
            return True
        if _contains_phrase(self.normalised, description):
            return True
        words = _content_words(description)
        return bool(words) and any(words <= segment for segment in self.segments)


@dataclass
class _RecordFacts:
    """Everything the record says that a draft may repeat: drugs, doses, dates."""

    drugs: set[str] = field(default_factory=set)
    doses: set[tuple[Decimal, str]] = field(default_factory=set)
    dates: set[dt.date] = field(default_factory=set)
    day_months: set[tuple[int, int]] = field(default_factory=set)  # every date, as (day, month)
    yearless: set[tuple[int, int]] = field(default_factory=set)  # "13 de enero" in the record text
    units: tuple[str, ...] = ()


def _walk(value: object) -> Iterator[object]:
    """Every leaf of a dumped model: strings, dates, numbers."""
    if isinstance(value, dict):
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _walk(item)
    else:
        yield value


def _medication_drugs(medication: Medication, lexicon: DrugLexicon) -> set[str]:
    """Canonical drugs of a record medication; a name with extras ("Paracetamol 500 mg comp.")
    falls back to the lexicon mentions inside it."""
    canonical = lexicon.canonical(medication.name)
    if canonical is not None:
        return {canonical}
    return {m.canonical for m in lexicon.find(medication.name)}


_FIELD_SEPARATOR = "\n|\n"


def _record_facts(stay: HospitalStay, lexicon: DrugLexicon) -> _RecordFacts:
    facts = _RecordFacts()
    medications = [*stay.inpatient_medications, *stay.discharge_medications]
    facts.units = tuple(sorted({m.unit for m in medications}))
    for medication in medications:
        facts.drugs |= _medication_drugs(medication, lexicon)
        facts.doses.add((medication.dose, normalise_unit(medication.unit)))

    # The patient's name and identifiers are not clinical text: never scan them.
    dumped = stay.model_dump(mode="python", exclude={"patient": {"name", "identifiers"}})
    pivot = stay.discharge.discharged_on.year
    texts = []
    for leaf in _walk(dumped):
        if isinstance(leaf, dt.datetime):
            facts.dates.add(leaf.date())
        elif isinstance(leaf, dt.date):
            facts.dates.add(leaf)
        elif isinstance(leaf, str):
            texts.append(leaf)
    # A lab's value and unit are separate fields; the writer puts them together ("186 G"), which
    # reads as a quantity the record has, not an invented dose.
    texts += [f"{lab.value} {lab.unit}" for lab in stay.labs if lab.unit]
    # One scan over all the record's text instead of one per field; no drug, dose or date
    # pattern matches across "|", so a mention cannot be stitched together from two fields.
    text = _FIELD_SEPARATOR.join(texts)
    facts.drugs |= {m.canonical for m in lexicon.find(text)}
    facts.doses |= {(d.value, d.unit) for d in find_doses(text, extra_units=facts.units)}
    for mention in find_dates(text, pivot_year=pivot):
        if mention.date is not None:
            facts.dates.add(mention.date)
        else:
            facts.yearless.add((mention.day, mention.month))
    facts.day_months = {(d.day, d.month) for d in facts.dates} | facts.yearless
    return facts


def _missing(stay: HospitalStay, draft: _Draft, lexicon: DrugLexicon) -> Iterator[Finding]:
    for i, diagnosis in enumerate(stay.diagnoses):
        if not draft.mentions_item(diagnosis.description, diagnosis.code):
            yield Finding("missing_diagnosis", diagnosis.description, f"diagnoses[{i}]")
    for i, procedure in enumerate(stay.procedures):
        if not draft.mentions_item(procedure.description, procedure.code):
            yield Finding("missing_procedure", procedure.description, f"procedures[{i}]")
    mentioned = {m.canonical for m in draft.drugs}
    for i, medication in enumerate(stay.discharge_medications):
        wanted = _medication_drugs(medication, lexicon)
        if not (wanted & mentioned or _contains_phrase(draft.normalised, medication.name)):
            yield Finding("missing_discharge_medication", medication.name, f"discharge_medications[{i}]")


def _unknown(stay: HospitalStay, draft: _Draft, lexicon: DrugLexicon) -> Iterator[Finding]:
    facts = _record_facts(stay, lexicon)
    for drug in draft.drugs:
        if not any(lexicon.covers(known, drug.canonical) for known in facts.drugs):
            yield Finding("unknown_drug", drug.surface, start=drug.start, end=drug.end)
    for dose in find_doses(draft.text, extra_units=facts.units):
        # "2 g/día" is fine when the record has 2 g: the per-day form restates the frequency.
        if (dose.value, dose.unit) not in facts.doses and (dose.value, base_unit(dose.unit)) not in facts.doses:
            yield Finding("unknown_dose", dose.text, start=dose.start, end=dose.end)
    for date in find_dates(draft.text, pivot_year=stay.discharge.discharged_on.year):
        if date.date is not None:
            known = date.date in facts.dates or (date.day, date.month) in facts.yearless
        else:
            known = (date.day, date.month) in facts.day_months
        if not known:
            yield Finding("unknown_date", date.text, start=date.start, end=date.end)


def check_draft(stay: HospitalStay, text: str) -> CheckReport:
    """Check a draft against its record: what it omits and what it adds (drugs, doses, dates)."""
    lexicon = load_lexicon()
    draft = _Draft(text, lexicon)
    missing = list(_missing(stay, draft, lexicon))
    unknown = sorted(_unknown(stay, draft, lexicon), key=lambda f: (f.start or 0, f.kind))
    report = CheckReport(tuple(missing + unknown))
    # Counts only: the draft and the record are patient data and never go to the logs.
    logger.debug("draft checked: %d missing, %d unknown", len(missing), len(unknown))
    return report
