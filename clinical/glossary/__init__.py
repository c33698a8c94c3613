"""The Spanish -> English medical glossary: hints for the translation prompt and a term metric.

``glossary.tsv`` (next to this file, documented in ``README.md``) lists drug names (Latin-American
DCI -> US names: ``paracetamol`` -> acetaminophen), clinical abbreviations (``HTA``, ``EVC``,
``EPOC``), institutions (``IMSS``, ``FONASA``, ``CESFAM``) and clinical terms, each with a category
and a source note. Drug entries also match every spelling the drug lexicon knows
(``acetaminofén``, ``dipirona``), through :mod:`clinical.lexicon`.

- :func:`hints` finds the glossary terms in a Spanish text (case- and accent-insensitive, whole
  words, longest match) as ``(spanish, english)`` pairs for
  :func:`clinical.contract.translation_messages`.
- :func:`term_accuracy` scores a translation: the share of glossary terms found in the source
  whose English equivalent appears in the translation.

Sense rules: an entry may carry ``context`` words (``+eco|ecografía``: it applies only with one of
them near; ``-software|MIT``: never with one of them near). One Spanish key may have several
senses (``TV`` is transvaginal beside ``ECO``, ventricular tachycardia otherwise): the first sense,
in file order, whose context holds is taken; one without context is the default.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from clinical.lexicon import fold, load_lexicon

__all__ = ["Glossary", "GlossaryEntry", "GlossaryMatch", "hints", "load_glossary", "parse_tsv", "term_accuracy"]

logger = logging.getLogger(__name__)

CATEGORIES = ("drug", "abbreviation", "institution", "term")
_HEADER = ["es", "en", "accept", "category", "source", "notes", "match"]
_HEADER_WITH_CONTEXT = [*_HEADER, "context"]
# How far a context word may be from the term: this many words either side.
CONTEXT_WINDOW = 6
# Separators that clinicians use interchangeably inside combination drug names.
_COMBO = re.compile(r"\s*[/+-]\s*")


@dataclass(frozen=True)
class GlossaryEntry:
    """One Spanish term, its English rendering for the prompt and the English forms accepted."""

    es: str
    en: str
    accept: tuple[str, ...]
    category: str
    source: str
    notes: str = ""
    case_sensitive: bool = False
    requires: tuple[str, ...] = ()  # folded context words, one of which must be near
    excludes: tuple[str, ...] = ()  # folded context words none of which may be near

    @property
    def has_context(self) -> bool:
        return bool(self.requires or self.excludes)


@dataclass(frozen=True)
class GlossaryMatch:
    """A glossary term found in a text; ``start``/``end`` index the original string."""

    start: int
    end: int
    surface: str
    entry: GlossaryEntry


def _accepted(en: str, accept: str) -> tuple[str, ...]:
    if accept.strip():
        return tuple(a.strip() for a in accept.split("|") if a.strip())
    # No explicit list: the English term without its parenthetical ("metamizole (dipyrone)").
    return (re.sub(r"\s*\(.*?\)", "", en).strip() or en,)


def _context(cell: str, number: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``+a|b ; -c|d`` -> (required words, excluded words), folded."""
    requires: list[str] = []
    excludes: list[str] = []
    for group in (g.strip() for g in cell.split(";")):
        if not group:
            continue
        if group[0] not in "+-":
            raise ValueError(f"glossary line {number}: a context group starts with + (required) or - (excluded)")
        words = [fold(w.strip())[0] for w in group[1:].split("|") if w.strip()]
        (requires if group[0] == "+" else excludes).extend(words)
    return tuple(requires), tuple(excludes)


def parse_tsv(text: str) -> list[GlossaryEntry]:
    """Parse the glossary TSV: ``#`` comment lines, a header line, then one entry per line.

    The header is the seven columns ``es`` .. ``match``, optionally followed by ``context``."""
    entries = []
    header: list[str] | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        cells = line.split("\t")
        if header is None:
            if cells not in (_HEADER, _HEADER_WITH_CONTEXT):
                raise ValueError(f"glossary line {number}: the header must be {'<TAB>'.join(_HEADER_WITH_CONTEXT)}")
            header = cells
            continue
        if len(cells) != len(header):
            raise ValueError(f"glossary line {number}: expected {len(header)} tab-separated columns, got {len(cells)}")
        es, en, accept, category, source, notes, match = (c.strip() for c in cells[:7])
        requires, excludes = _context(cells[7], number) if len(cells) > 7 else ((), ())
        if not es or not en:
            raise ValueError(f"glossary line {number}: 'es' and 'en' must not be empty")
        if category not in CATEGORIES:
            raise ValueError(f"glossary line {number}: category must be one of {', '.join(CATEGORIES)}")
        if not source:
            raise ValueError(f"glossary line {number}: every entry needs a source note")
        if match not in ("", "case"):
            raise ValueError(f"glossary line {number}: match must be empty or 'case'")
        entries.append(GlossaryEntry(es, en, _accepted(en, accept), category, source, notes, match == "case",
                                     requires, excludes))
    return entries


def _key(term: str) -> str:
    folded, _ = fold(term)
    return _COMBO.sub("/", folded).strip()


def _pattern(keys: list[str]) -> re.Pattern[str]:
    # Longest first: the regex engine takes the first alternative that matches at a position.
    alternatives = [
        r" ?[/+-] ?".join(re.escape(part).replace("\\ ", " ") for part in key.split("/"))
        for key in sorted(keys, key=len, reverse=True)
    ]
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)")


class Glossary:
    """Lookup of glossary terms in running Spanish text."""

    def __init__(self, entries: list[GlossaryEntry], with_drug_variants: bool = True):
        self.entries = tuple(entries)
        self._by_key: dict[str, GlossaryEntry] = {}  # the default sense of each key
        self._senses: dict[str, list[GlossaryEntry]] = {}  # every sense, in file order
        for entry in entries:
            key = _key(entry.es)
            senses = self._senses.setdefault(key, [])
            defaults = [s for s in senses if not s.has_context]
            if senses and (not entry.has_context and defaults or entry.case_sensitive != senses[0].case_sensitive):
                raise ValueError(f"glossary: {entry.es!r} is listed twice (as {senses[0].es!r}); a second "
                                 "sense needs context words and the same match column")
            senses.append(entry)
            if not entry.has_context or key not in self._by_key:
                self._by_key[key] = entry
        # Other spellings of the drugs ("acetaminofén", "dipirona"), unless the glossary has the
        # spelling as a key of its own ("HBPM" is an abbreviation entry, not enoxaparina).
        self._variants: dict[str, GlossaryEntry] = {}
        if with_drug_variants:
            for drug in load_lexicon():
                entry = self._by_key.get(_key(drug.canonical))
                for variant in drug.variants if entry else ():
                    key = _key(variant)
                    if key not in self._by_key:
                        self._variants.setdefault(key, entry)
        insensitive = [k for k, e in self._by_key.items() if not e.case_sensitive] + list(self._variants)
        self._pattern = _pattern(insensitive) if insensitive else None
        # Case-sensitive entries (short abbreviations that are also words: "PA", "TEA", "LES") are
        # matched on the accent-folded text with the original case kept.
        sensitive = [e for e in entries if e.case_sensitive]
        self._case_keys: dict[str, list[GlossaryEntry]] = {}
        for e in sensitive:
            self._case_keys.setdefault(_case_key(e.es), []).append(e)
        self._case_pattern = _pattern(list(self._case_keys)) if sensitive else None

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self):
        return iter(self.entries)

    def lookup(self, term: str) -> GlossaryEntry | None:
        """The entry of a whole Spanish term in any case/accents, or ``None``."""
        key = _key(term)
        entry = self._by_key.get(key) or self._variants.get(key)
        if entry is not None and entry.case_sensitive and _case_key(term) != _case_key(entry.es):
            return None
        return entry

    def find(self, text: str) -> list[GlossaryMatch]:
        """Every glossary term in ``text``, left to right, longest match, whole words, in the sense
        its context words pick (a term whose every sense is ruled out by its context is no match)."""
        folded, offsets = fold(text)
        found: list[tuple[int, int, GlossaryEntry]] = []
        for match in self._pattern.finditer(folded) if self._pattern is not None else ():
            key = _COMBO.sub("/", match.group())
            senses = self._senses.get(key) or [self._variants[key]]
            entry = _sense(senses, folded, match.start(), match.end())
            if entry is not None:
                found.append((offsets[match.start()], offsets[match.end() - 1] + 1, entry))
        if self._case_pattern is not None:
            cased, case_offsets = _fold_keep_case(text)
            for match in self._case_pattern.finditer(cased):
                entry = _sense(self._case_keys[_COMBO.sub("/", match.group())], folded, match.start(), match.end())
                if entry is not None:
                    found.append((case_offsets[match.start()], case_offsets[match.end() - 1] + 1, entry))
        # Resolve overlaps between the two passes: longest first, then leftmost.
        found.sort(key=lambda m: (-(m[1] - m[0]), m[0]))
        kept: list[tuple[int, int, GlossaryEntry]] = []
        for start, end, entry in found:
            if all(end <= s or e <= start for s, e, _ in kept):
                kept.append((start, end, entry))
        return [GlossaryMatch(s, e, text[s:e], entry) for s, e, entry in sorted(kept, key=lambda m: m[0])]

    def hints(self, text: str) -> list[tuple[str, str]]:
        """``(spanish as written, english)`` for each glossary entry in ``text``, once, in order."""
        seen: set[tuple[str, str]] = set()
        pairs = []
        for match in self.find(text):
            sense = (match.entry.es, match.entry.en)  # one key may be hinted once per sense
            if sense not in seen:
                seen.add(sense)
                pairs.append((match.surface, match.entry.en))
        return pairs

    def term_accuracy(self, source_es: str, translation_en: str) -> float:
        """Share of glossary entries found in ``source_es`` with an accepted English form in the
        translation (whole words, case- and accent-insensitive); 1.0 when the source has none."""
        entries = {(m.entry.es, m.entry.en): m.entry for m in self.find(source_es)}
        if not entries:
            return 1.0
        target = fold(translation_en)[0]
        hits = sum(any(_contains(target, form) for form in entry.accept) for entry in entries.values())
        logger.debug("term accuracy: %d of %d glossary terms rendered", hits, len(entries))
        return hits / len(entries)


_WORD = re.compile(r"\w+(?:[-/.]\w+)*")


_SENTENCE_END = re.compile(r"[.;!?:](?:\s|$)|\n")


def _near(folded: str, start: int, end: int) -> str:
    """The words around ``folded[start:end]`` in its sentence, ``CONTEXT_WINDOW`` either side."""
    left = folded[max(0, start - 120):start]
    ends = list(_SENTENCE_END.finditer(left))
    left = left[ends[-1].end():] if ends else left
    right = folded[end:end + 120]
    stop = _SENTENCE_END.search(right)
    right = right[:stop.start()] if stop else right
    before = _WORD.findall(left)[-CONTEXT_WINDOW:]
    after = _WORD.findall(right)[:CONTEXT_WINDOW]
    return " " + " ".join(before + after) + " "


def _holds(entry: GlossaryEntry, near: str) -> bool:
    def has(word: str) -> bool:
        return f" {word} " in near or (" " in word and word in near)

    if entry.excludes and any(has(w) for w in entry.excludes):
        return False
    return not entry.requires or any(has(w) for w in entry.requires)


def _sense(senses: list[GlossaryEntry], folded: str, start: int, end: int) -> GlossaryEntry | None:
    """The first sense whose context holds around ``folded[start:end]``, or None."""
    if len(senses) == 1 and not senses[0].has_context:
        return senses[0]
    near = _near(folded, start, end)
    # Senses with context first (they are the exceptions), then the default.
    for entry in sorted(senses, key=lambda e: not e.has_context):
        if _holds(entry, near):
            return entry
    return None


def _case_key(term: str) -> str:
    return _COMBO.sub("/", _fold_keep_case(term)[0]).strip()


def _fold_keep_case(text: str) -> tuple[str, list[int]]:
    """Like :func:`clinical.lexicon.fold` but keeping letter case: accents off, offsets kept."""
    folded, offsets = fold(text)
    # fold() lowercases; put each character's case back from the original.
    restored = "".join(
        ch.upper() if text[offsets[i]].isupper() and ch.isalpha() else ch for i, ch in enumerate(folded)
    )
    return restored, offsets


def _contains(folded_text: str, form: str) -> bool:
    return re.search(r"(?<!\w)" + re.escape(fold(form)[0]) + r"(?!\w)", folded_text) is not None


@cache
def load_glossary() -> Glossary:
    """The packaged glossary (``clinical/glossary/glossary.tsv``), parsed once per process."""
    text = resources.files(__name__).joinpath("glossary.tsv").read_text(encoding="utf-8")
    return Glossary(parse_tsv(text))


def hints(text: str) -> list[tuple[str, str]]:
    """Glossary hints for translating ``text``: ``[(spanish, english), ...]`` (see :class:`Glossary`)."""
    return load_glossary().hints(text)


def term_accuracy(source_es: str, translation_en: str) -> float:
    """Share of the source's glossary terms rendered as one of their English forms (see :class:`Glossary`)."""
    return load_glossary().term_accuracy(source_es, translation_en)
