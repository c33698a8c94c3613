"""What Alta's translation leaves readable although MEDDOCAN's guidelines annotate it.

De-identification for translation masks what identifies a person (HIPAA's Safe Harbor list:
names, places smaller than a state, dates, contact details, record and other numbers) and nothing
else, because every mask costs twice: the translator sees ``__PHI_SEXO_1__ de __PHI_EDAD_1__``
instead of "Mujer de 52 años", and re-identification puts the Spanish words back into the English
text ("Mujer of 52 años"). So :func:`keep_readable` drops, from a MEDDOCAN-typed analysis:

- relatives mentioned without a name ("su madre"; :mod:`clinical.deid.names.kinship`);
- descriptions of the patient ("casada", "de origen boliviano";
  :mod:`clinical.deid.recognizers.subject_descriptor`);
- the patient's sex;
- ages under 90 (Safe Harbor masks ages over 89, which are rare enough to identify someone).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from clinical.deid.names.gazetteer import NameGazetteer
from clinical.deid.names.kinship import drop_kinship_terms
from clinical.deid.recognizers.subject_descriptor import drop_subject_descriptors
from clinical.deid.span import PhiSpan

__all__ = ["keep_readable"]

_OLDEST_READABLE = 89
_NUMBER = re.compile(r"\d+")
_NINETY_OR_MORE = re.compile(r"(?i)\b(?:noventa|cien|ciento)")
_YEARS = re.compile(r"(?i)\baños?\b")


def _identifying_age(surface: str) -> bool:
    if _NINETY_OR_MORE.search(surface):
        return True
    numbers = [int(n) for n in _NUMBER.findall(surface)]
    # "92", "92 años", "de 92 años de edad": a number of years; "18 meses" is never over 89 years.
    return any(n > _OLDEST_READABLE for n in numbers) and (bool(_YEARS.search(surface)) or len(numbers) == 1)


def keep_readable(text: str, spans: Iterable[PhiSpan], gazetteer: NameGazetteer) -> list[PhiSpan]:
    """``spans`` without what translation leaves readable (see the module's docstring)."""
    kept = drop_subject_descriptors(text, drop_kinship_terms(text, spans, gazetteer))
    return [s for s in kept if s.type != "SEXO_SUJETO_ASISTENCIA"
            and (s.type != "EDAD_SUJETO_ASISTENCIA" or _identifying_age(text[s.start:s.end]))]
