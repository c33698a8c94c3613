"""Fixes for hospital, institution and health-centre spans, the statistical model's weakest types.

Each fix follows a convention of MEDDOCAN's guidelines that the model gets wrong, measured on
errors of a model trained on one half of the train split and run on the other:

- a town written right after a hospital's proper name with no comma is a place of its own
  ("Hospital San Roque Córdoba" -> HOSPITAL "Hospital San Roque" + TERRITORIO "Córdoba"; "...
  Marqués de Valdecilla en Santander": "en" is no part of either), but not after "de" or a
  generic word ("Hospital de León", "Hospital Universitario Donostia": the town is the name);
- "de" + a known town right after a hospital is part of its name ("HOSPITAL REGIONAL" + "DE
  TEMUCO");
- a primary-care centre is ``CENTRO_SALUD``, not an institution: "Centro de Salud Las Calesas",
  and the Latin-American "CESFAM", "Consultorio", "UMF" (Unidad de Medicina Familiar);
- a brand name ("Lisozima®", "Trangorex®") is a medicine, not an institution.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from clinical.deid.names.words import PARTICLES, fold
from clinical.deid.places.place_gazetteer import load_places
from clinical.deid.span import PhiSpan

__all__ = ["fix_organisations"]

_ORGANISATION_TYPES = frozenset({"HOSPITAL", "INSTITUCION", "CENTRO_SALUD"})
_HEALTH_CENTRE = re.compile(
    r"(?i)(?:centro\s+de\s+salud|cesfam|cecosf|consultorio|u\.?m\.?f\.?(?=\s|$)|unidad\s+de\s+medicina\s+familiar"
    r"|centro\s+de\s+atenci[óo]n\s+primaria|c\.?\s?s\.?\s?f\.?(?=\s))"
)
_BRAND_MARK = re.compile(r"\s?[®™]")
_OF = re.compile(r"[ \t]+(?:de|del|DE|DEL)[ \t]+(?=[A-ZÁÉÍÓÚÑ])")
_TOWN_WORD = re.compile(r"[^\W\d_]+")
_MAX_PLACE_WORDS = 4
# Words after which a town is part of the organisation's name.
_NAMES_BY_TOWN = PARTICLES | frozenset({
    "hospital", "clinica", "clinic", "universitario", "universitaria", "general", "provincial", "comarcal",
    "regional", "clinico", "central", "militar", "infantil", "materno", "civil", "municipal", "nacional",
    "complejo", "hospitalario", "asistencial", "sanitario", "consorcio", "i", "instituto", "universidad",
    "fundacion", "centro", "salud", "policlinico", "sanatorio", "cesfam", "consultorio",
})


def fix_organisations(text: str, spans: Iterable[PhiSpan]) -> list[PhiSpan]:
    """``spans`` with organisation spans split from a trailing town, retyped or dropped as above."""
    out: list[PhiSpan] = []
    for span in spans:
        if span.type not in _ORGANISATION_TYPES:
            out.append(span)
            continue
        if _BRAND_MARK.match(text, span.end) and span.type == "INSTITUCION":
            continue
        if span.type != "CENTRO_SALUD" and _HEALTH_CENTRE.match(text, span.start):
            span = PhiSpan(span.start, span.end, "CENTRO_SALUD", span.source, span.validated)
        out.extend(_split_place(text, _with_town(text, span)))
    return _merge_touching(sorted(out))


def _with_town(text: str, span: PhiSpan) -> PhiSpan:
    """``span`` extended over "de <town>" right after it: "HOSPITAL REGIONAL" + "DE TEMUCO"."""
    match = _OF.match(text, span.end)
    if match is None:
        return span
    words = list(_TOWN_WORD.finditer(text, match.end(), text.find("\n", match.end()) % (len(text) + 1)))
    places = load_places()
    for count in range(min(_MAX_PLACE_WORDS, len(words)), 0, -1):
        run = words[:count]
        gaps = [text[a.end():b.start()] for a, b in zip(run, run[1:], strict=False)]
        if run[0].start() != match.end() or any(g not in (" ", "\t") for g in gaps):
            continue
        if fold(" ".join(w.group() for w in run)) in places:
            return PhiSpan(span.start, run[-1].end(), span.type, span.source, span.validated)
    return span


def _merge_touching(spans: list[PhiSpan]) -> list[PhiSpan]:
    """Drop a span that an extended organisation now covers (the town the model tagged alone)."""
    out: list[PhiSpan] = []
    for span in spans:
        if out and span.start < out[-1].end:
            if span.end <= out[-1].end:
                continue
            out[-1] = PhiSpan(out[-1].start, span.start, out[-1].type, out[-1].source, out[-1].validated)
        out.append(span)
    return out


def _split_place(text: str, span: PhiSpan) -> list[PhiSpan]:
    """The organisation without the town after it, and the town, when the span ends with one."""
    words = list(re.finditer(r"\S+", text[span.start:span.end]))
    places = load_places()
    for count in range(min(_MAX_PLACE_WORDS, len(words) - 2), 0, -1):
        tail = words[-count:]
        name = " ".join(w.group() for w in tail)
        place_type = places.get(fold(name))
        if place_type is None:
            continue
        before = words[-count - 1].group()
        if fold(before) in _NAMES_BY_TOWN or not any(c.isalnum() for c in before):
            continue  # "Hospital de León", "Hospital Universitario Donostia": the town names the hospital
        if re.match(r"[ \t]*\d", text[span.end:]):
            continue  # "Hospital POVISA Salamanca 5": a street
        head = words[-count - 2] if fold(before) == "en" else words[-count - 1]
        head_end = span.start + head.end()
        place_start = span.start + tail[0].start()
        if head_end <= span.start:
            return [span]
        return [PhiSpan(span.start, head_end, span.type, span.source, span.validated),
                PhiSpan(place_start, span.end, place_type, span.source, span.validated)]
    return [span]
