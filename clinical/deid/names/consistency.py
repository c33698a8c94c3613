"""One person, one type, one placeholder: document-level consistency of person names.

A name found by a trigger in the header ("Paciente: Rosa Elena Martínez Fuentes") and the same
name later in the prose, where the statistical model guessed another type (``FAMILIARES``
instead of the patient's), would otherwise get two placeholders, and a translator would read two
people. Two steps, after the spans are merged:

1. :func:`harmonise_person_types`: the person-name spans are grouped into people: the same
   words in the same order (case and accents aside; "PÉREZ GONZÁLEZ, JUAN" reads as "Juan Pérez
   González"), or a run of at least two words of another name ("Martínez Fuentes" in "Rosa
   Elena Martínez Fuentes"; not "Garrido Vidal" in "Vidal Sotillo y ... Garrido"). Each
   person gets the type with the most evidence, counting every recogniser's candidate spans over
   its mentions: a trigger ("Dr.", "Paciente:") weighs most, then the statistical model, then a
   bare gazetteer match. A mention keeps a different type only where a trigger of its own says
   so; people that triggers give different types (a patient and a relative sharing a surname)
   are not merged.
2. :func:`propagate_name_variants`: the other ways a document writes a person found once are
   looked for and masked with that person's type: the surname pair alone ("Martínez Fuentes"),
   first name and first surname ("Rosa Martínez"), the name in capitals or in title case, and
   "Juan Pérez González" for "PÉREZ GONZÁLEZ, JUAN".

A placeholder restores exactly one string, so the shorter forms of a name ("Martínez Fuentes")
get placeholders of their own, of the same type as the full name.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from clinical.deid.names.extension import PERSON_TYPES, only_ordinary_words
from clinical.deid.names.gazetteer import NameGazetteer
from clinical.deid.names.words import PARTICLES, fold, is_not_name
from clinical.deid.span import PhiSpan

__all__ = ["harmonise_person_types", "propagate_name_variants"]

_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
_TRIGGER_SOURCE = "name-context"
_WEIGHTS = {_TRIGGER_SOURCE: 4.0, "crf": 1.0}
_GUESS_WEIGHT = 0.25


@dataclass(frozen=True)
class _Word:
    text: str
    start: int
    end: int


def _name_words(text: str, span: PhiSpan, gazetteer: NameGazetteer) -> list[_Word]:
    """The name words of a person span: capitalised, not particles, kinship terms or non-names."""
    words = []
    for match in _WORD.finditer(text, span.start, span.end):
        word = match.group()
        if word[0].isupper() and fold(word) not in PARTICLES and not is_not_name(word, gazetteer.words):
            words.append(_Word(word, match.start(), match.end()))
    return words


def _weight(source: str) -> float:
    for prefix, weight in _WEIGHTS.items():
        if source.startswith(prefix):
            return weight
    return _GUESS_WEIGHT


_Key = tuple[str, ...]


def _key(text: str, span: PhiSpan, words: list[_Word]) -> _Key:
    """The folded name words in reading order: "PÉREZ GONZÁLEZ, JUAN" -> (juan, perez, gonzalez)."""
    comma = text.find(",", span.start, span.end)
    if comma >= 0:
        words = [w for w in words if w.start > comma] + [w for w in words if w.start < comma]
    return tuple(fold(w.text) for w in words)


def _contains(large: _Key, small: _Key) -> bool:
    return any(large[i:i + len(small)] == small for i in range(len(large) - len(small) + 1))


class _People:
    """Union-find over person keys."""

    def __init__(self) -> None:
        self.parent: dict[_Key, _Key] = {}

    def find(self, key: _Key) -> _Key:
        self.parent.setdefault(key, key)
        while self.parent[key] != key:
            self.parent[key] = self.parent[self.parent[key]]
            key = self.parent[key]
        return key

    def union(self, a: _Key, b: _Key) -> None:
        self.parent[self.find(a)] = self.find(b)


def harmonise_person_types(text: str, spans: Sequence[PhiSpan], candidates: Iterable[PhiSpan],
                           gazetteer: NameGazetteer) -> list[PhiSpan]:
    """``spans`` with every mention of one person given that person's best-supported type.

    ``candidates`` are all the recognisers' spans before merging: the evidence.
    """
    persons = [(i, s) for i, s in enumerate(spans) if s.type in PERSON_TYPES]
    if not persons:
        return list(spans)
    evidence = sorted((c for c in candidates if c.type in PERSON_TYPES), key=lambda c: c.start)
    keys: dict[int, _Key] = {}
    votes: dict[_Key, defaultdict[str, float]] = defaultdict(lambda: defaultdict(float))
    triggered: dict[int, set[str]] = {}
    for index, span in persons:
        words = _name_words(text, span, gazetteer)
        if not words:
            continue
        key = _key(text, span, words)
        keys[index] = key
        triggered[index] = set()
        for candidate in evidence:
            if candidate.start >= span.end:
                break
            if candidate.overlaps(span):
                votes[key][candidate.type] += _weight(candidate.source)
                if candidate.source.startswith(_TRIGGER_SOURCE):
                    triggered[index].add(candidate.type)
        if not votes[key]:
            votes[key][span.type] += _GUESS_WEIGHT
    people = _link(set(keys.values()), votes)
    totals: dict[_Key, defaultdict[str, float]] = defaultdict(lambda: defaultdict(float))
    for key, key_votes in votes.items():
        for type_, weight in key_votes.items():
            totals[people.find(key)][type_] += weight
    out = list(spans)
    for index, key in keys.items():
        person_votes = totals[people.find(key)]
        best = max(sorted(person_votes), key=lambda t: person_votes[t])
        span = spans[index]
        type_ = _chosen_type(span.type, best, triggered[index])
        if type_ != span.type:
            out[index] = PhiSpan(span.start, span.end, type_, span.source, span.validated)
    return out


def _chosen_type(current: str, best: str, own_triggers: set[str]) -> str:
    """The person's ``best`` type, unless a trigger at this very mention says otherwise."""
    if not own_triggers or best in own_triggers:
        return best
    return current if current in own_triggers else min(own_triggers)


def _trigger_types(votes: dict[str, float]) -> set[str]:
    # A trigger weighs _WEIGHTS[_TRIGGER_SOURCE]; any type with at least that much has one.
    return {t for t, w in votes.items() if w >= _WEIGHTS[_TRIGGER_SOURCE]}


def _link(keys: set[_Key], votes: dict[_Key, defaultdict[str, float]]) -> _People:
    """Group keys into people: a run of 2+ words of another key is the same person, unless
    triggers gave the two different types."""
    people = _People()
    ordered = sorted(keys, key=lambda k: (len(k), k))
    for key in ordered:
        people.find(key)
    for small in ordered:
        if len(small) < 2:
            continue
        for large in ordered:
            if large == small or len(large) <= len(small) or not _contains(large, small):
                continue
            small_triggers, large_triggers = _trigger_types(votes[small]), _trigger_types(votes[large])
            if small_triggers and large_triggers and not small_triggers & large_triggers:
                continue
            people.union(small, large)
    return people


def _variants(text: str, span: PhiSpan, words: list[_Word], gazetteer: NameGazetteer) -> set[str]:
    """Other ways the document may write the person of ``span`` (two words or more each)."""
    surface = text[span.start:span.end]
    forms = {surface}
    head, comma, tail = surface.partition(",")
    if comma:  # "PÉREZ GONZÁLEZ, JUAN": surnames, then given names
        given, surnames = tail.split(), head.split()
        forms.add(" ".join([*given, *surnames]))
    elif len(words) >= 3:
        count = 1
        while count < len(words) - 2 and gazetteer.is_given(words[count].text):
            count += 1
        given = [w.text for w in words[:count]]
        surnames = text[_tail_start(text, span, words[count]):span.end].split()
    else:
        given = surnames = []
    if given and len(surnames) >= 2:
        forms.add(" ".join(surnames))
        forms.add(" ".join([given[0], *_first_surname(surnames)]))
    for form in list(forms):
        forms.add(form.upper())
        forms.add(_title(form))
    return {f for f in forms if len(f.split()) >= 2}


def _first_surname(surnames: list[str]) -> list[str]:
    """The first surname with its particles: ["de", "la", "Fuente", "Ruiz"] -> ["de", "la", "Fuente"]."""
    for index, word in enumerate(surnames):
        if fold(word) not in PARTICLES:
            return surnames[:index + 1]
    return surnames


def _tail_start(text: str, span: PhiSpan, word: _Word) -> int:
    """Where the surnames start: at ``word``, or at the particles right before it ("de la Fuente")."""
    start = word.start
    while True:
        match = re.search(r"(?<![\w'’-])([^\W\d_]+)[ \t]+$", text[span.start:start])
        if match is None or fold(match.group(1)) not in PARTICLES:
            return start
        start = span.start + match.start()


def _title(form: str) -> str:
    """"DE LA CRUZ AYALA-TAPIA" -> "De la Cruz Ayala-Tapia"; words already in title case are kept."""
    def word(index: int, text: str) -> str:
        if not text.isupper():
            return text
        if index and fold(text) in PARTICLES:
            return text.lower()
        return "-".join(part.capitalize() for part in text.split("-"))

    return " ".join(word(i, w) for i, w in enumerate(form.split()))


def propagate_name_variants(text: str, spans: Sequence[PhiSpan], gazetteer: NameGazetteer) -> list[PhiSpan]:
    """``spans`` (merged) plus the uncovered whole-word occurrences of the other forms of their names.

    An occurrence that the statistical model took for something else, whole and alone ("Luis
    Alberto Curiñir Ayala-Tapia" as an institution) or with ordinary words around it ("Itzel
    Llancapán Tzintzun evoluciona bien" as an institution), is the person again: it replaces that
    span, and the ordinary words become readable.
    """
    wanted: dict[str, str] = {}
    for span in sorted(spans, key=lambda s: (s.start, s.end)):
        if span.type not in PERSON_TYPES:
            continue
        words = _name_words(text, span, gazetteer)
        if len(words) < 2:
            continue
        for form in _variants(text, span, words, gazetteer):
            wanted.setdefault(" ".join(form.split()), span.type)
    if not wanted:
        return list(spans)
    # One alternation, longest forms first, so "Juan Pérez González" is claimed before "Juan Pérez".
    alternatives = (re.escape(form).replace(r"\ ", r"[ \t]+") for form in sorted(wanted, key=len, reverse=True))
    pattern = re.compile(r"(?<![\w'’-])(?:" + "|".join(alternatives) + r")(?![\w'’-])")
    out = list(spans)
    for match in pattern.finditer(text):
        candidate = PhiSpan(match.start(), match.end(), wanted[" ".join(match.group().split())],
                            source="name-propagation")
        clashes = [other for other in out if candidate.overlaps(other)]
        if all(_mistaken_for_another_kind(text, other, candidate, gazetteer) for other in clashes):
            out = [other for other in out if other not in clashes] + [candidate]
    return sorted(out)


def _mistaken_for_another_kind(text: str, span: PhiSpan, name: PhiSpan, gazetteer: NameGazetteer) -> bool:
    if not span.source.startswith("crf") or span.type in PERSON_TYPES:
        return False
    if (span.start, span.end) == (name.start, name.end):
        return True
    if not (span.start <= name.start and name.end <= span.end):
        return False
    return only_ordinary_words(text[span.start:name.start] + " " + text[name.end:span.end], gazetteer)
