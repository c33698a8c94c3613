"""Mentions of a patient's relatives ("su madre", "dos hermanos", "tío materno"), as MEDDOCAN annotates them.

MEDDOCAN's guidelines make every mention of a relative ``FAMILIARES_SUJETO_ASISTENCIA``, and the
statistical model, which sees few of them, misses many (relatives were the type with the lowest
recall after institutions). The corpus's own conventions, measured on its train split: the
kinship word with a following "materno/paterna", "mayor/menor" or "gemelo", and a preceding
number from two up ("dos hijos", "ambos progenitores"), but not "un"/"una" nor "la familia"
(annotated about as often as not). "Células madre" and "solución madre" are not relatives.

For translation these spans are dropped again (:mod:`clinical.deid.names.kinship`): only relatives'
names are masked there.
"""

from __future__ import annotations

import re

from clinical.deid.recognizers.pattern_recognizer import PatternRecognizer

__all__ = ["KinshipRecognizer"]

_KIN = (r"madres?|padres?|hij[oa]s?|herman[oa]s?|t[íi][oa]s?|abuel[oa]s?|bisabuel[oa]s?|niet[oa]s?"
        r"|sobrin[oa]s?|prim[oa]s?|cuñad[oa]s?|suegr[oa]s?|yerno|nuera|marido|espos[oa]s?|progenitor(?:a|es)?"
        r"|c[óo]nyuge")
_COUNT = r"(?:dos|tres|cuatro|cinco|seis|siete|ocho|nueve|diez|ambos|ambas|\d{1,2})\s+"
_QUALIFIER = r"\s+(?:matern[oa]s?|patern[oa]s?|mayor|menor|gemel[oa]s?)"


class KinshipRecognizer(PatternRecognizer):
    """A kinship word, with its count and its side of the family; source ``"kinship"``."""

    name = "kinship"
    phi_type = "FAMILIARES_SUJETO_ASISTENCIA"
    pattern = re.compile(
        rf"(?i)(?<![\w-])(?<!solución )(?<!células )(?<!célula )(?<!cepa )(?<!lengua )"
        rf"(?:{_COUNT})?(?:{_KIN})(?:{_QUALIFIER})?(?![\w-])"
    )
