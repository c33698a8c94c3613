"""The drug lexicon: recognise medication names in Spanish clinical text and map them to one form.

``drugs.tsv`` (next to this file) lists, per drug, its canonical Spanish DCI/INN name and the other
ways Chilean and Mexican clinicians write it (``acetaminofén`` for ``paracetamol``, ``dipirona`` for
``metamizol``, ``amoxicilina con ácido clavulánico``...). Matching ignores case, accents and
whitespace runs, and treats ``/``, ``-`` and ``+`` between the parts of a combination as the same
separator, so ``Amoxicilina - Ácido Clavulánico`` is one mention.

Offsets returned by :meth:`DrugLexicon.find` point into the caller's original string, accents and
all, so a user interface can highlight exactly what was matched.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources

__all__ = ["DrugEntry", "DrugLexicon", "DrugMention", "fold", "load_lexicon", "parse_tsv"]

# Separators between the parts of a combination product, as clinicians write them.
_COMBO_SEPARATOR = re.compile(r"\s*[/+-]\s*")


_SPACE_RUN = re.compile(r" {2,}")


@cache
def _fold_char(char: str) -> str:
    """One character lowercased, decomposed and stripped of combining marks; whitespace -> " "."""
    if char.isspace():
        return " "
    # Lowercase before decomposing: "İ".lower() yields a combining dot that must go too.
    return "".join(p for p in unicodedata.normalize("NFD", char.lower()) if not unicodedata.combining(p))


def fold(text: str) -> tuple[str, list[int]]:
    """Lowercase ``text``, strip accents and collapse whitespace runs, keeping an offset map.

    Returns ``(folded, offsets)`` where ``offsets[i]`` is the index in ``text`` of the character
    that produced ``folded[i]``. Folding is done character by character (lowercase, NFD, drop
    combining marks) because normalising the whole string at once would shift every offset after
    the first accented letter.
    """
    table = {ord(c): _fold_char(c) for c in set(text)}
    if all(len(v) == 1 for v in table.values()):
        # Fast path, nearly all Spanish text: one character in, one out, so str.translate keeps
        # offsets; only whitespace runs need collapsing.
        folded = text.translate(table)
        if "  " not in folded:
            return folded, list(range(len(text)))
        parts: list[str] = []
        offsets: list[int] = []
        pos = 0
        for run in _SPACE_RUN.finditer(folded):
            parts.append(folded[pos:run.start() + 1])
            offsets.extend(range(pos, run.start() + 1))
            pos = run.end()
        parts.append(folded[pos:])
        offsets.extend(range(pos, len(folded)))
        return "".join(parts), offsets
    return _fold_slow(text)


def _fold_slow(text: str) -> tuple[str, list[int]]:
    out: list[str] = []
    offsets: list[int] = []
    for index, char in enumerate(text):
        folded = _fold_char(char)
        if folded == " " and out and out[-1] == " ":
            continue  # collapse "amoxicilina  /\nácido" to single spaces
        out.extend(folded)
        offsets.extend([index] * len(folded))
    return "".join(out), offsets


def _key(name: str) -> str:
    """The lookup key of a drug name: folded, trimmed, combination separators unified to ``/``."""
    folded, _ = fold(name)
    folded = _COMBO_SEPARATOR.sub("/", folded)
    return folded.strip(" .,;:()[]\"'")


@dataclass(frozen=True)
class DrugEntry:
    """One lexicon row: a drug, the spellings that mean it, and its therapeutic group."""

    canonical: str
    variants: tuple[str, ...]
    group: str
    notes: str = ""

    @property
    def components(self) -> tuple[str, ...]:
        """The single drugs of a combination (``("amoxicilina", "ácido clavulánico")``)."""
        return tuple(part.strip() for part in self.canonical.split("/"))


@dataclass(frozen=True)
class DrugMention:
    """A drug name found in free text; ``start``/``end`` index the original string."""

    start: int
    end: int
    canonical: str
    surface: str


def parse_tsv(text: str) -> list[DrugEntry]:
    """Parse the lexicon TSV (header line, then canonical, variants, group, notes)."""
    lines = text.splitlines()
    if not lines or lines[0].split("\t")[:3] != ["canonical", "variants", "group"]:
        raise ValueError("drug lexicon: the first line must be the header 'canonical<TAB>variants<TAB>group<TAB>notes'")
    entries = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip() or line.startswith("#"):
            continue
        cells = line.split("\t")
        if len(cells) < 3 or len(cells) > 4:
            raise ValueError(f"drug lexicon line {number}: expected 3 or 4 tab-separated columns")
        canonical, variants, group = (c.strip() for c in cells[:3])
        notes = cells[3].strip() if len(cells) == 4 else ""
        if not canonical or canonical != canonical.lower():
            raise ValueError(f"drug lexicon line {number}: canonical name must be non-empty and lowercase")
        if not group:
            raise ValueError(f"drug lexicon line {number}: group is empty")
        names = tuple(v.strip() for v in variants.split("|") if v.strip())
        entries.append(DrugEntry(canonical, names, group, notes))
    return entries


class DrugLexicon:
    """Lookup of drug names: exact (:meth:`canonical`) and in running text (:meth:`find`)."""

    def __init__(self, entries: list[DrugEntry]):
        self._entries: dict[str, DrugEntry] = {}
        self._by_key: dict[str, str] = {}
        for entry in entries:
            if entry.canonical in self._entries:
                raise ValueError(f"drug lexicon: {entry.canonical!r} is listed twice")
            self._entries[entry.canonical] = entry
            for name in (entry.canonical, *entry.variants):
                key = _key(name)
                owner = self._by_key.setdefault(key, entry.canonical)
                if owner != entry.canonical:
                    # One spelling meaning two drugs would make every check on it unreliable.
                    raise ValueError(
                        f"drug lexicon: {name!r} is a variant of both {owner!r} and {entry.canonical!r}"
                    )
        # Longest keys first: the regex engine takes the first alternative that matches at a
        # position, so this gives "amoxicilina/ácido clavulánico" priority over "amoxicilina".
        alternatives = [
            r" ?[/+-] ?".join(re.escape(part).replace("\\ ", " ") for part in key.split("/"))
            for key in sorted(self._by_key, key=len, reverse=True)
        ]
        self._pattern = re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)")

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.canonical(name) is not None

    def __iter__(self):
        return iter(self._entries.values())

    def entry(self, canonical: str) -> DrugEntry:
        """The lexicon row of a canonical name (``KeyError`` if it is not one)."""
        return self._entries[canonical]

    def canonical(self, name: str) -> str | None:
        """The canonical form of a whole drug name in any listed spelling, else ``None``."""
        return self._by_key.get(_key(name))

    def find(self, text: str) -> list[DrugMention]:
        """Every drug mention in ``text``, left to right, longest match first, whole words only."""
        folded, offsets = fold(text)
        mentions = []
        for match in self._pattern.finditer(folded):
            key = _COMBO_SEPARATOR.sub("/", match.group())
            start = offsets[match.start()]
            end = offsets[match.end() - 1] + 1
            mentions.append(DrugMention(start, end, self._by_key[key], text[start:end]))
        return mentions

    def covers(self, known: str, mentioned: str) -> bool:
        """Whether mentioning ``mentioned`` is justified by the record containing ``known``.

        True for the same drug, for one part of a known combination ("amoxicilina" when the record
        has amoxicilina/ácido clavulánico) and for a generic name of a known specific one
        ("insulina" when the record has insulina glargina, "penicilina" for penicilina g benzatina).
        """
        if known == mentioned:
            return True
        parts = self._entries[known].components if known in self._entries else (known,)
        if mentioned in parts:
            return True
        return any(part.startswith(mentioned + " ") for part in parts)


@cache
def load_lexicon() -> DrugLexicon:
    """The packaged lexicon (``clinical/lexicon/drugs.tsv``), parsed once per process."""
    text = resources.files(__name__).joinpath("drugs.tsv").read_text(encoding="utf-8")
    return DrugLexicon(parse_tsv(text))
