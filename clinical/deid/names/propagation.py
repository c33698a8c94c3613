"""Consistency within a document: a string found as PHI once is PHI wherever else it appears.

A statistical recogniser sees "Rivera Bueno" after "Apellidos:" but may miss the same surname in
the narrative, where nothing around it says it is a name. Propagating what was found to the
string's other whole-word occurrences closes most of those gaps; it is the "one sense per
document" postprocessing of de-identification systems.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from clinical.deid.span import PhiSpan

__all__ = ["propagate"]

# Types whose surface strings are distinctive enough to propagate. Dates, ages, sexes and
# countries are not: "2014" or "España" elsewhere in a text is often not about the patient.
PROPAGATED_TYPES = frozenset({
    "NOMBRE_SUJETO_ASISTENCIA",
    "NOMBRE_PERSONAL_SANITARIO",
    "HOSPITAL",
    "CALLE",
    "CORREO_ELECTRONICO",
    "ID_SUJETO_ASISTENCIA",
    "ID_ASEGURAMIENTO",
    "ID_TITULACION_PERSONAL_SANITARIO",
    "ID_CONTACTO_ASISTENCIAL",
})
_MIN_LENGTH = 4  # shorter strings ("Gil", "Paz") are also common words or abbreviations


def propagate(text: str, spans: Iterable[PhiSpan], types: frozenset[str] = PROPAGATED_TYPES) -> list[PhiSpan]:
    """New spans for uncovered whole-word occurrences of strings already found as PHI.

    Only occurrences that touch no existing span are added (the caller merges them), each with
    the type of the first span of that string.
    """
    spans = sorted(spans)
    surfaces: dict[str, str] = {}
    for span in spans:
        surface = text[span.start:span.end]
        if span.type in types and len(surface) >= _MIN_LENGTH and any(c.isalnum() for c in surface):
            surfaces.setdefault(surface, span.type)
    if not surfaces:
        return []
    found: list[PhiSpan] = []
    # Longest strings first, so "Rivera Bueno" is claimed before "Rivera" alone.
    for surface in sorted(surfaces, key=len, reverse=True):
        pattern = re.compile(r"(?<!\w)" + re.escape(surface) + r"(?!\w)")
        for match in pattern.finditer(text):
            candidate = PhiSpan(match.start(), match.end(), surfaces[surface], source="propagation")
            if not any(candidate.overlaps(other) for other in (*spans, *found)):
                found.append(candidate)
    return found
