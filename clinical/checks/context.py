"""The draft as the checkers read it: folded text, lines, sections, copied record text, claimed spans.

Folding (lowercase, no accents) keeps one character per character, so a match in the folded text is
a span in the draft. Sections are found by their headings, so that coverage is section-aware: a
diagnosis counts when it is in DIAGNÓSTICOS, a discharge drug when it is in TRATAMIENTO AL ALTA.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import cache

from clinical.checks.findings import Fact, Finding
from clinical.checks.record_index import RecordIndex
from clinical.lexicon import DrugLexicon
from clinical.record import HospitalStay

__all__ = ["Context", "Line", "fold1", "item_span", "norm"]


@cache
def _fold_char(char: str) -> str:
    lowered = char.lower()
    if len(lowered) != 1:
        return char
    base = unicodedata.normalize("NFD", lowered)[0]
    return " " if base.isspace() else base


def fold1(text: str) -> str:
    """Lowercase without accents, one character for one character (offsets are kept)."""
    return "".join(_fold_char(c) for c in text)


def norm(text: str) -> str:
    """Folded, punctuation to spaces, whitespace collapsed: what phrases are compared on."""
    return " ".join(re.sub(r"[^\w/]+", " ", fold1(text)).split())


# Headings as clinicians write them (folded, without a trailing colon) -> section key.
_HEADINGS = {
    "identificacion": "identificacion", "datos del paciente": "identificacion",
    "motivo de ingreso": "motivo", "motivo de consulta": "motivo", "anamnesis": "motivo",
    "antecedentes": "antecedentes",
    "diagnosticos de egreso": "diagnosticos", "diagnosticos": "diagnosticos", "diagnostico de egreso": "diagnosticos",
    "diagnostico": "diagnosticos", "diagnosticos al alta": "diagnosticos", "diagnostico al alta": "diagnosticos",
    "procedimientos": "procedimientos", "procedimientos realizados": "procedimientos",
    "evolucion": "evolucion", "evolucion clinica": "evolucion", "resumen de la hospitalizacion": "evolucion",
    "examenes relevantes": "examenes", "examenes": "examenes", "examenes de laboratorio": "examenes",
    "tratamiento durante la hospitalizacion": "tratamiento_hospitalizacion",
    "tratamiento intrahospitalario": "tratamiento_hospitalizacion",
    "tratamiento hospitalario": "tratamiento_hospitalizacion",
    "tratamiento al alta": "tratamiento_alta", "tratamiento de alta": "tratamiento_alta",
    "indicaciones al alta": "indicaciones", "indicaciones": "indicaciones",
    "controles": "controles", "seguimiento": "controles", "citas de control": "controles",
}


@dataclass(frozen=True)
class Line:
    start: int
    end: int
    text: str
    section: str | None
    heading: bool = False


@dataclass
class Context:
    """One review in progress: the record index, the draft, and what has been found so far."""

    stay: HospitalStay
    text: str
    lexicon: DrugLexicon
    record: RecordIndex
    folded: str = ""
    lines: list[Line] = field(default_factory=list)
    copied: list[tuple[int, int, str]] = field(default_factory=list)  # spans copied from a record text field
    claimed: list[tuple[int, int]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    facts: list[Fact] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.folded = fold1(self.text)
        self.lines = _lines(self.text, self.folded)
        self.copied = _copied_spans(self.text, self.record)

    # --- sections -------------------------------------------------------------------------

    def section_lines(self, *keys: str) -> list[Line]:
        return [line for line in self.lines if line.section in keys and not line.heading and line.text.strip()]

    def has_section(self, key: str) -> bool:
        return any(line.heading and line.section == key for line in self.lines)

    def line_at(self, pos: int) -> Line | None:
        return next((line for line in self.lines if line.start <= pos < max(line.end, line.start + 1)), None)

    # --- spans ----------------------------------------------------------------------------

    def in_copied(self, start: int, end: int) -> str | None:
        """The record field a span was copied from, when it lies inside copied record text."""
        return next((f for s, e, f in self.copied if s <= start and end <= e), None)

    def is_claimed(self, start: int, end: int) -> bool:
        return any(s < end and start < e for s, e in self.claimed)

    def claim(self, start: int, end: int) -> None:
        self.claimed.append((start, end))

    def trace(self, kind: str, start: int, end: int, record_field: str | None) -> None:
        """Record a fact span (traced when ``record_field`` is given) and claim it."""
        self.facts.append(Fact(kind, start, end, record_field))
        self.claim(start, end)

    def flag(self, code: str, start: int | None, end: int | None, record_field: str | None,
             text: str | None = None) -> None:
        """A finding; with a span it is also an untraced fact, claimed so no later pass repeats it."""
        shown = text if text is not None else (self.text[start:end] if start is not None else "")
        finding = Finding(code, shown, record_field, start, end)
        if start is not None and end is not None:
            # a span first traced, then found wrong by a more specific check, is no longer traced
            self.facts = [f for f in self.facts if not (f.traced and f.start == start and f.end == end)]
            if any(f.start is not None and f.start < end and start < f.end for f in self.findings):
                self.claim(start, end)
                return  # one finding per span: the first (most specific) checker wins
            self.facts.append(Fact(finding.kind, start, end, None))
            self.claim(start, end)
        self.findings.append(finding)


_ITEM_MARKER = re.compile(r"^\s*(?:\d{1,2}[.)]|[-•*])\s*")


def item_span(line: Line) -> tuple[int, int]:
    """A list line without its marker ("1. ", "- ", "• ") and trailing punctuation, as a draft span."""
    marker = _ITEM_MARKER.match(line.text)
    start = line.start + (marker.end() if marker else 0)
    return start, max(start, line.start + len(line.text.rstrip(" .;")))


def _lines(text: str, folded: str) -> list[Line]:
    lines = []
    section = None
    pos = 0
    for raw in text.split("\n"):
        start, end = pos, pos + len(raw)
        pos = end + 1
        key = _heading_key(folded[start:end])
        if key is not None:
            section = key
            lines.append(Line(start, end, raw, section, heading=True))
        else:
            lines.append(Line(start, end, raw, section))
    return lines


def _heading_key(folded_line: str) -> str | None:
    stripped = folded_line.strip().rstrip(":").strip()
    if not stripped or len(stripped) > 45:
        return None
    return _HEADINGS.get(" ".join(stripped.replace("#", " ").replace("*", " ").split()))


def _copied_spans(text: str, record: RecordIndex) -> list[tuple[int, int, str]]:
    """Where the draft repeats a free-text field of the record verbatim (sentence by sentence).

    Facts inside such a span are the record's own words: traced to that field. A sentence edited by
    anyone no longer matches, so its facts go through the other checks.
    """
    spans = []
    for phrase, record_field in record.copyable:
        at = text.find(phrase)
        while at >= 0:
            spans.append((at, at + len(phrase), record_field))
            at = text.find(phrase, at + 1)
    return spans
