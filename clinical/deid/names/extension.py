"""Person-name span edges: never leave a surname visible, never run on into a street.

The statistical model often stops one word short on names it has not seen ("Paciente: Rosa Elena
Martínez Fuentes" -> "Rosa Elena Martínez" and "Fuentes" left readable). After the spans are
merged, each person span is extended over the gazetteer names right next to it on the same line
(given names to the left, any name to the right, with their particles), as long as that touches
no other span and no known non-name.

The other way round, a name rule reads capitalised words until something stops it, and in a
signature without commas ("Remitido por: Lucas Villalaín Álvarez C. Piloña 23 ...") that can be
the start of a street or a town that another recogniser found:
:func:`cut_names_before_other_phi` ends the name there. And where the model read a whole line
around a name as something else ("Paciente Rosa Elena López López" as an institution, "Ximena
Soto Fuentes evoluciona bien" as a street), :func:`drop_model_spans_around_names` trusts the name
rule: the model's span goes, so the words around the name stay readable.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from clinical.deid.names.gazetteer import NameGazetteer
from clinical.deid.names.words import (
    ORGANISATION_WORDS,
    PARTICLES,
    PERSON_TOO,
    PLACE_WORDS,
    fold,
    is_not_name,
)
from clinical.deid.span import PhiSpan

__all__ = ["PERSON_TYPES", "complete_names", "cut_names_before_other_phi", "drop_model_spans_around_names",
           "end_names_at_organisations", "has_name_word", "only_ordinary_words"]

PERSON_TYPES = frozenset({"NOMBRE_SUJETO_ASISTENCIA", "NOMBRE_PERSONAL_SANITARIO", "FAMILIARES_SUJETO_ASISTENCIA"})
_MAX_EXTRA_WORDS = 3
_NEXT_WORD = re.compile(r"[ \t]{1,2}((?:(?:de|del|la|las|los|y|DE|DEL|LA|LAS|LOS|Y)[ \t]+){0,2})([^\W\d_]+(?:['’-][^\W\d_]+)*)")
_PREVIOUS_WORD = re.compile(r"(?<![\w'’-])([^\W\d_]+)[ \t]{1,2}$")
_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")


def only_ordinary_words(words: str, gazetteer: NameGazetteer) -> bool:
    """Whether ``words`` hold no digit and no capitalised word but known non-names ("Paciente",
    "evoluciona bien"): what may be cut from around a name without hiding any PHI."""
    return not any(c.isdigit() for c in words) and all(
        w.islower() or is_not_name(w, gazetteer.words) for w in _WORD.findall(words))


def _end_at_alnum(text: str, start: int, end: int) -> int:
    """``end`` moved back past spaces and punctuation, not before ``start``."""
    while end > start and not text[end - 1].isalnum():
        end -= 1
    return end


def has_name_word(text: str, span: PhiSpan, gazetteer: NameGazetteer) -> bool:
    """Whether ``span`` holds a capitalised word that can be a name (not just "madre", "hijo de 27 años")."""
    for word in _WORD.findall(text[span.start:span.end]):
        if word[0].isupper() and fold(word) not in PARTICLES and not is_not_name(word, gazetteer.words):
            return True
    return False


def complete_names(text: str, spans: Sequence[PhiSpan], gazetteer: NameGazetteer) -> list[PhiSpan]:
    """``spans`` (merged, sorted, not overlapping) with person names extended over adjacent names."""
    out = list(spans)
    for index, span in enumerate(out):
        if span.type not in PERSON_TYPES or not has_name_word(text, span, gazetteer):
            continue
        before = out[index - 1].end if index else 0
        after = out[index + 1].start if index + 1 < len(out) else len(text)
        start = _extend_left(text, span.start, before, gazetteer)
        end = _extend_right(text, span.end, after, gazetteer)
        if (start, end) != (span.start, span.end):
            out[index] = PhiSpan(start, end, span.type, span.source, span.validated)
    return out


def _same_case(word: str, reference: str) -> bool:
    return word.isupper() == (reference.isupper() and len(reference) > 1)


def _extend_right(text: str, end: int, limit: int, gazetteer: NameGazetteer) -> int:
    last = _WORD.findall(text[:end][-60:])
    reference = last[-1] if last else ""
    for _ in range(_MAX_EXTRA_WORDS):
        match = _NEXT_WORD.match(text, end)
        if match is None or match.end() > limit:
            break
        word = match.group(2)
        if not (word[0].isupper() and gazetteer.is_name(word) and _same_case(word, reference)
                and not is_not_name(word, gazetteer.words) and fold(word) not in PLACE_WORDS):
            break
        end = match.end()
    return end


def _extend_left(text: str, start: int, limit: int, gazetteer: NameGazetteer) -> int:
    first = _WORD.match(text, start)
    reference = first.group() if first else ""
    for _ in range(_MAX_EXTRA_WORDS):
        match = _PREVIOUS_WORD.search(text, max(limit, start - 40), start)
        if match is None or match.start() < limit:
            break
        word = match.group(1)
        if not (word[0].isupper() and gazetteer.is_given(word) and _same_case(word, reference)
                and not is_not_name(word, gazetteer.words)):
            break
        start = match.start()
    return start


_NAME_RULE_SOURCES = ("name-context", "name-gazetteer")


def cut_names_before_other_phi(text: str, spans: Sequence[PhiSpan], gazetteer: NameGazetteer) -> list[PhiSpan]:
    """``spans`` (all recognisers' candidates) with each name rule's span ended where a span of
    another kind, found by another recogniser, starts inside it and runs to or past its end.

    Not where that span starts with a gazetteer name: the model reads "MARÍA JOSÉ SOTO ARAVENA"
    in capitals as a country more readily than "JOSÉ" is a street.
    """
    others = [s for s in spans if s.type not in PERSON_TYPES and not s.source.startswith(_NAME_RULE_SOURCES)
              and not _starts_with_name(text, s, gazetteer)]
    out = []
    for span in spans:
        if span.type in PERSON_TYPES and span.source.startswith(_NAME_RULE_SOURCES):
            cut = min((o.start for o in others if span.start < o.start < span.end <= o.end), default=span.end)
            end = _end_at_alnum(text, span.start, cut)
            if end <= span.start:
                continue
            if end != span.end:
                span = PhiSpan(span.start, end, span.type, span.source, span.validated)
        out.append(span)
    return out


def _starts_with_name(text: str, span: PhiSpan, gazetteer: NameGazetteer) -> bool:
    first = _WORD.match(text, span.start)
    return first is not None and gazetteer.is_name(first.group()) and not is_not_name(first.group(), gazetteer.words)


def drop_model_spans_around_names(text: str, spans: Sequence[PhiSpan], gazetteer: NameGazetteer) -> list[PhiSpan]:
    """``spans`` without the statistical model's non-person spans that run over a name rule's
    span and, outside it, over ordinary words only ("Paciente", "Madre de nombre", "evoluciona
    bien": no digit, no capitalised word but known non-names). Hospitals and streets named after
    people never reach here: the name rules leave names inside them alone."""
    names = [s for s in spans if s.type in PERSON_TYPES and s.source.startswith(_NAME_RULE_SOURCES)]

    def over_a_name(span: PhiSpan) -> bool:
        for name in names:
            if span.overlaps(name) and (span.start, span.end) != (name.start, name.end):
                rest = text[span.start:max(span.start, name.start)] + " " + text[min(span.end, name.end):span.end]
                if only_ordinary_words(rest, gazetteer):
                    return True
        return False

    return [s for s in spans if not (s.source.startswith("crf") and s.type not in PERSON_TYPES and over_a_name(s))]


# Organisation words that also begin saints' and virgins' names inside a person's name ("José San Martín").
_IN_NAMES = frozenset({"san", "santa", "santo", "virgen", "nuestra", "ntra"})
_TOKEN = re.compile(r"\S+")


def end_names_at_organisations(text: str, spans: Sequence[PhiSpan]) -> list[PhiSpan]:
    """``spans`` with every name ended before a word that starts a department, an institution or a
    street, or a number: in a signature without commas ("Remitido por: Dr. Armando Rincón Mayans
    Departament de Urología", "Dr. Rafael Segura Saint-Gerons Pza. Dr. Emilio Luque 3") the model
    reads on past the surname, and the name is then wrong twice (one span missed, one invented)."""
    out = []
    for span in spans:
        if span.type in PERSON_TYPES and span.type != "FAMILIARES_SUJETO_ASISTENCIA":
            tokens = list(_TOKEN.finditer(text, span.start, span.end))
            for token in tokens[1:]:
                word = fold(token.group().strip(".,;:()\"'"))
                if any(c.isdigit() for c in token.group()) or (
                        word in ORGANISATION_WORDS and word not in PERSON_TOO and word not in _IN_NAMES):
                    end = _end_at_alnum(text, span.start, token.start())
                    span = PhiSpan(span.start, end, span.type, span.source, span.validated)
                    break
        out.append(span)
    return out
