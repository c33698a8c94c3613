"""Bare kinship terms ("la familia", "su madre", "hijo de 27 años"): PHI for MEDDOCAN, not for Alta.

MEDDOCAN's guidelines annotate every mention of a patient's relative as
``FAMILIARES_SUJETO_ASISTENCIA``, names or not, and Alta follows them when it writes BRAT files or
is scored on MEDDOCAN. When Alta de-identifies a note for translation, a relationship that names
no one identifies no one (HIPAA's Safe Harbor lists relatives' names, not relationships), and
masking it hurts twice: the translator sees ``__PHI_FAMILIAR_1__`` instead of "the family", and
re-identification would put the Spanish "familia" back into the English text.

:func:`drop_kinship_terms` keeps a relative's span only where it holds a name, cut to start at
the name ("madre Teresa Rodríguez" -> "Teresa Rodríguez").
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from clinical.deid.names.gazetteer import NameGazetteer
from clinical.deid.names.words import PARTICLES, fold, is_not_name
from clinical.deid.span import PhiSpan

__all__ = ["drop_kinship_terms"]

_RELATIVE = "FAMILIARES_SUJETO_ASISTENCIA"
_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")


def drop_kinship_terms(text: str, spans: Iterable[PhiSpan], gazetteer: NameGazetteer) -> list[PhiSpan]:
    """``spans`` without relatives' spans that name no one; the others start at the name."""
    out = []
    for span in spans:
        if span.type != _RELATIVE:
            out.append(span)
            continue
        start = _first_name_word(text, span, gazetteer)
        if start is not None:
            out.append(span if start == span.start else PhiSpan(start, span.end, span.type, span.source, span.validated))
    return out


def _first_name_word(text: str, span: PhiSpan, gazetteer: NameGazetteer) -> int | None:
    for match in _WORD.finditer(text, span.start, span.end):
        word = match.group()
        if word[0].isupper() and fold(word) not in PARTICLES and not is_not_name(word, gazetteer.words):
            return match.start()
    return None
