"""Reading a person's name from a position in a text: 1-6 capitalised words with their particles.

Every name recogniser reads names the same way: words in title case ("Rosa Elena Martínez
Fuentes", "Herrero-Hahn", "O'Ryan") or all in capitals ("PÉREZ GONZÁLEZ"), on one line, joined by
spaces and the particles of Spanish names ("María de los Ángeles", "Pérez y Soto"); an initial
("J.") or "Mª"/"Ma." may sit inside. A word of :data:`~clinical.deid.names.words.NOT_NAMES`
("Servicio", "Refiere", "RUT") ends the name, and a particle counts only when a name word follows
it. The caller says how sure it is that a name starts here: after "Nombre:" any capitalised word
will do; after a bare "paciente" the first word must be in the gazetteer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from clinical.deid.names.gazetteer import NameGazetteer
from clinical.deid.names.words import PARTICLES, fold, is_not_name

__all__ = ["NameMatch", "organisation_before", "scan_name"]

_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
_GAP = re.compile(r"[ \t]{1,3}")
_COMMA = re.compile(r"[ \t]*,[ \t]*")
_ABBREVIATED = frozenset({"ma", "mª", "fco"})
_SAINTS = frozenset({"san", "santa"})
_GLUED_PREFIXES = frozenset({"Mc", "Mac", "Di", "De", "Da", "Le", "La", "Van", "Von", "Del"})
MAX_WORDS = 6


@dataclass(frozen=True)
class NameMatch:
    """``text[start:end]`` is a name made of ``words`` (particles and initials left out)."""

    start: int
    end: int
    words: tuple[str, ...]
    upper: bool


def _shape(word: str) -> str | None:
    """``"title"``, ``"upper"`` or ``None`` (not written like a name)."""
    letters = [c for c in word if c.isalpha()]
    if "º" in word or "ª" in word:  # "NºCol", "1ª": ordinal signs, never in a name but "Mª"
        return None
    if not letters or not letters[0].isupper():
        return None
    if len(letters) >= 2 and all(c.isupper() for c in letters):
        return "upper"
    # "Herrero-Hahn", "Aboul-hosn", "O'Ryan": capitalised first part, lowercase letters somewhere;
    # "E-mail", "T-4" are not names.
    if "-" in word and len(word.split("-")[0]) < 2:
        return None
    if any(c.islower() for c in letters):
        return "title"
    return None


def _is_particle(word: str, upper: bool, first: bool) -> bool:
    """A particle written as names write it: "de", "De la", "El" (title case), "DE" (in capitals).

    "San"/"Santa" join the words of a name ("Paula San Miguel Fraile") but never start one.
    """
    key = fold(word)
    if key in _SAINTS:
        return not first and (word.isupper() if upper else word.istitle())
    if key not in PARTICLES:
        return False
    if first:
        return word.islower() or word.istitle() or word.isupper()
    return word.isupper() if upper else (word.islower() or (word.istitle() and key not in ("y", "e")))


def _camel_cut(word: str) -> int:
    """Where glued words split ("DominguezCorreo" -> 9), or ``len(word)``; "McDonald" is one word."""
    for index in range(2, len(word)):
        if word[index].isupper() and word[index - 1].islower() and word[:index] not in _GLUED_PREFIXES:
            return index
    return len(word)


def scan_name(text: str, start: int, gazetteer: NameGazetteer, *, known_first: bool = False,
              given_first: bool = False, allow_comma: bool = False) -> NameMatch | None:
    """The name that starts at ``start`` (after optional spaces), or ``None``.

    ``known_first``: the first word must be a gazetteer name; ``given_first``: a given name.
    ``allow_comma``: "PÉREZ GONZÁLEZ, JUAN" is one name when a given name follows the comma.
    """
    position = start
    while position < len(text) and text[position] in " \t":
        position += 1
    match = _read(text, position, gazetteer, known_first, given_first)
    if match is None or not allow_comma:
        return match
    comma = _COMMA.match(text, match.end)
    if comma is None:
        return match
    tail = _read(text, comma.end(), gazetteer, True, True)
    if tail is None or tail.upper != match.upper or len(match.words) + len(tail.words) > MAX_WORDS:
        return match
    return NameMatch(match.start, tail.end, match.words + tail.words, match.upper)


def _next_word_start(text: str, after: int) -> int | None:
    """Where the next word of a name may start after ``after``: past 1-3 spaces or tabs."""
    gap = _GAP.match(text, after)
    return gap.end() if gap else None


def _read(text: str, position: int, gazetteer: NameGazetteer, known_first: bool, given_first: bool) -> NameMatch | None:
    words: list[str] = []
    start = end = -1
    upper = False
    pending: int | None = position  # where the next word may start
    while pending is not None and len(words) < MAX_WORDS:
        word_match = _WORD.match(text, pending)
        if word_match is None:
            break
        word, after = word_match.group(), word_match.end()
        cut = _camel_cut(word)
        glued = cut < len(word)
        if glued:
            word, after = word[:cut], word_match.start() + cut
        initial = len(word) == 1 and word.isupper() and text.startswith(".", after)
        if initial and word == "D" and start < 0:  # "D. Xavier Pascual": D. is Don, not part of the name
            pending = _next_word_start(text, after + 1)
            continue
        if initial and (len(words) > 2 or (start < 0 and (known_first or given_first))):
            # "Lucas Villalaín Álvarez C. Piloña 23": an initial after the surnames starts a street;
            # a guess never starts at an initial ("C. Juan ..." is "C." and a name).
            break
        particle = _is_particle(word, upper, first=not words)
        if particle or initial or (fold(word) in _ABBREVIATED and word[0].isupper()):
            # Particles, initials and "Mª" join only if a name word follows (checked next turn).
            if not particle and text.startswith(".", after):
                after += 1
            start = word_match.start() if start < 0 else start
            pending = _next_word_start(text, after)
            continue
        shape = _shape(word)
        if shape is None or is_not_name(word, gazetteer.words) or (words and (shape == "upper") != upper):
            break
        if not words:
            upper = shape == "upper"
            if (known_first and not gazetteer.is_name(word)) or (given_first and not gazetteer.is_given(word)):
                return None
        start = word_match.start() if start < 0 else start
        words.append(word)
        end = after
        pending = None if glued else _next_word_start(text, after)
    # A name may start with the particle of a surname ("de la Fuente"), never end with one.
    return NameMatch(start, end, tuple(words), upper) if words else None


def organisation_before(text: str, position: int, organisation_words: frozenset[str]) -> bool:
    """Whether the capitalised words right before ``position`` (same line) start an organisation.

    "Hospital Dr. Sótero del Río", "Calle Miguel Benítez", "Instituto Nacional de Cardiología
    Ignacio Chávez": the person is part of the name of a place, left to that place's recogniser.
    """
    line_start = text.rfind("\n", 0, position) + 1
    before = text[line_start:position]
    if re.search(r"(?i)\bc/[ \t]*$", before):  # "c/ Dr. Joan Soler 1-3", Spain's street abbreviation
        return True
    for word in reversed(re.findall(r"[^\W\d_]+\.?|[^\w\s\"'«»“”]", before)):
        bare = word.rstrip(".")
        if not bare or not bare[0].isalpha():
            return False
        key = fold(bare)
        if key in organisation_words:
            return True
        if not (bare[0].isupper() or key in PARTICLES):
            return False
    return False
