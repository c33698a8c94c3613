"""Keeping placeholders and terms away from a rule-based translator, and putting them back.

Terms are the glossary's (:mod:`clinical.glossary`) and the Spanish description written after a
CIE-10 code, which becomes the code's WHO ICD-10 English description (:mod:`clinical.terminology`).

A rule-based engine (Apertium) tokenises ``__PHI_FECHA_1__`` into words and translates ``FECHA``;
it also translates drug names and clinical abbreviations word by word ("HTA" stays "HTA",
"enoxaparina" stays Spanish). So before the text goes to it, every placeholder and every glossary
term is swapped for a token the engine does not know and passes through unchanged (with Apertium's
``-u``: no ``*`` mark): ``xq`` + the item's number written in consonants + ``qx`` (``xqcqx`` is
item 1). After translation the tokens are swapped back: a placeholder for itself, a glossary term
for its English form. The tokens hold no vowels, so they are no Spanish or English word, and their
letters never occur in the numbers' alphabet, so one token cannot be read inside another.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from clinical.deid.placeholders import PLACEHOLDER
from clinical.glossary import Glossary, GlossaryEntry, load_glossary
from clinical.terminology.coded import find_coded_descriptions

__all__ = ["TOKEN", "Protected", "protect", "restore", "target_of"]

_DIGITS = "bcdfghjklm"  # 0-9 written as consonants
_TOKEN = re.compile(r"xq([bcdfghjklm]+)qx", re.IGNORECASE)
TOKEN = _TOKEN
"""A protection token as it appears in the translator's output."""


def _token(index: int) -> str:
    return "xq" + "".join(_DIGITS[int(d)] for d in str(index)) + "qx"


def _index(letters: str) -> int:
    return int("".join(str(_DIGITS.index(c)) for c in letters.lower()))


def target_of(entry: GlossaryEntry) -> str:
    """The English a glossary term is replaced with: its first accepted form (no parenthetical gloss)."""
    return entry.accept[0] if entry.accept else entry.en


def _cased(surface: str, english: str, entry: GlossaryEntry) -> str:
    """``Paracetamol`` -> ``Acetaminophen`` at a sentence start, ``PARACETAMOL`` in a heading -> capitals."""
    if entry.category == "abbreviation" or not english or not surface[:1].isupper():
        return english
    if surface.isupper() and len(surface) > 3:
        return english.upper()
    return english[:1].upper() + english[1:]


@dataclass(frozen=True)
class Protected:
    """The text with tokens in place of placeholders and terms, and what each token stands for."""

    text: str
    items: tuple[str, ...] = field(repr=False)  # what token i is restored to
    placeholders: int = 0
    terms: int = 0

    def __repr__(self) -> str:  # never the text
        return f"Protected({len(self.text)} chars, {self.placeholders} placeholders, {self.terms} terms)"


def protect(text: str, glossary: Glossary | None = None, *, terms: bool = True) -> Protected:
    """``text`` with each placeholder and (when ``terms``) each glossary term replaced by a token."""
    # A token-like word already in the source would come back as an item: escape by protecting it too.
    items: list[str] = []

    def keep(value: str) -> str:
        items.append(value)
        return _token(len(items) - 1)

    guarded = _TOKEN.sub(lambda m: keep(m.group()), text)
    guarded = PLACEHOLDER.sub(lambda m: keep(m.group()), guarded)
    placeholders = len(items)
    found = 0
    if terms:
        # A CIE-10 code's own Spanish description becomes the WHO ICD-10 English one.
        parts = []
        position = 0
        for coded in find_coded_descriptions(guarded):
            parts.append(guarded[position:coded.start])
            parts.append(keep(coded.entry.en))
            position = coded.end
            found += 1
        parts.append(guarded[position:])
        guarded = "".join(parts)
        glossary = glossary if glossary is not None else load_glossary()
        parts: list[str] = []
        position = 0
        for match in glossary.find(guarded):
            if _TOKEN.search(match.surface):
                continue
            parts.append(guarded[position:match.start])
            parts.append(keep(_cased(match.surface, target_of(match.entry), match.entry)))
            position = match.end
            found += 1
        parts.append(guarded[position:])
        guarded = "".join(parts)
    return Protected(guarded, tuple(items), placeholders, found)


def restore(translated: str, protected: Protected | Sequence[str]) -> str:
    """Put back what each token stood for; a token the engine damaged beyond recognition stays
    damaged, and the placeholder check that follows reports the placeholder missing."""
    items = protected.items if isinstance(protected, Protected) else tuple(protected)

    def back(match: re.Match[str]) -> str:
        index = _index(match.group(1))
        return items[index] if index < len(items) else match.group()

    return _TOKEN.sub(back, translated)
