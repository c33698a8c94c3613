"""Boundary fixes for statistical spans, following MEDDOCAN's annotation guidelines.

The CRF gets most spans right but makes a few systematic edge errors, mostly in signatures and
address blocks, which these rules undo (none of them changes a gold span of MEDDOCAN train):

- courtesy titles are not part of a name ("Doctora Marta García" -> "Marta García");
- a hospital, institution or name does not run on into the street that follows it without a
  comma ("Hospital de Getafe Carretera Toledo" -> HOSPITAL "Hospital de Getafe" + CALLE
  "Carretera Toledo");
- the name of an identifier ("CURP", "NSS", "RUT") is a label, never PHI by itself;
- a place name is not cut after an article or a saint's title ("La" + "Habana", "Santa" +
  "Brígida", "Santiago de" + ...): two spans of the same type separated by one space are joined
  when the first ends with such a word, which never ends a name on its own;
- two dates or phone numbers joined by "y", "a" or a spaced slash or dash are two spans
  ("desde 1980 a 1983", "Tlf. 917277336 - 606409021"), as MEDDOCAN annotates them;
- an e-mail address is the address alone ("autor: slujanma@comv.es" -> "slujanma@comv.es");
- a span never ends with a comma, semicolon or colon ("Calle Ramón y Cajal, 3," -> "Calle Ramón
  y Cajal, 3": one of MEDDOCAN train's 11,333 spans does).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from clinical.deid.span import PhiSpan

__all__ = ["fix_boundaries", "is_identifier_label"]

_NAME_TYPES = frozenset({"NOMBRE_SUJETO_ASISTENCIA", "NOMBRE_PERSONAL_SANITARIO"})
_TITLE = re.compile(r"(?:(?:doctora?|dra?|sra?|srta|don|doña|d|dña|prof|profesora?)\.?\s+)+", re.IGNORECASE)
# Words that start a street name in Spain and Latin America, with their abbreviations.
_STREET = re.compile(
    r"(?<=\s)(?<!\bde\s)(?<!\bdel\s)(?<!\bla\s)(?:Avenida|Avda\.?|Av\.?|Calle|C/|Carretera|Ctra\.?|Paseo|Pso\.|Plaza|Pza\.|Camino|Ronda"
    r"|Rúa|Carrer|Travesía|Urb\.|Urbanización|Glorieta|Calzada|Pasaje)(?=[\s.]|$)"
)
_SPLIT_TYPES = frozenset({"HOSPITAL", "INSTITUCION", "CENTRO_SALUD", *_NAME_TYPES})
_ID_LABELS = frozenset({"CURP", "RFC", "NSS", "RUT", "RUN", "NHC", "DNI", "NIE", "NASS", "CIP", "NIF"})
_JOINERS = frozenset({"la", "el", "las", "los", "san", "santa", "santo", "de", "del", "puerto", "villa", "ciudad"})
_JOINED_TYPES = frozenset({"TERRITORIO", "CALLE", "HOSPITAL", "INSTITUCION", "CENTRO_SALUD", *_NAME_TYPES})
_LISTED_TYPES = frozenset({"FECHAS", "NUMERO_TELEFONO", "NUMERO_FAX"})
_COORDINATOR = re.compile(r"\s+(?:y|a|e|o)\s+|\s+[/-]\s+")
_EMAIL = re.compile(r"[^\s@:;,()<>]+@[^\s@:;,()<>]+[^\s@:;,()<>.]")


def is_identifier_label(surface: str) -> bool:
    """Whether ``surface`` is just the name of an identifier kind ("CURP", "RUT"), not PHI."""
    return surface.strip(" .:").upper() in _ID_LABELS


def fix_boundaries(text: str, spans: Iterable[PhiSpan]) -> list[PhiSpan]:
    """``spans`` with titles dropped from names, trailing streets split off, fragments joined."""
    out: list[PhiSpan] = []
    for span in spans:
        end = span.end
        while end > span.start + 1 and text[end - 1] in ",;: ":
            end -= 1
        if end != span.end:
            span = PhiSpan(span.start, end, span.type, span.source, span.validated)
        surface = text[span.start:span.end]
        if is_identifier_label(surface):
            continue
        start = span.start
        if span.type in _NAME_TYPES:
            title = _TITLE.match(surface)
            if title and title.end() < len(surface):
                start += title.end()
                surface = surface[title.end():]
        street = _STREET.search(surface) if span.type in _SPLIT_TYPES else None
        if street and street.start() > 0:
            cut = start + street.start()
            head_end = start + len(surface[:street.start()].rstrip(" ."))
            out.append(PhiSpan(start, head_end, span.type, span.source))
            if span.type not in _NAME_TYPES or surface[street.end():].strip():
                out.append(PhiSpan(cut, span.end, "CALLE", span.source))
            continue
        if span.type in _LISTED_TYPES:
            out.extend(_split_listed(text, PhiSpan(start, span.end, span.type, span.source)))
            continue
        if span.type == "CORREO_ELECTRONICO":
            email = _EMAIL.search(text, start, span.end)
            if email:
                start, end = email.span()
                out.append(PhiSpan(start, end, span.type, span.source))
                continue
        out.append(span if start == span.start else PhiSpan(start, span.end, span.type, span.source))
    return _join_fragments(text, out)


def _split_listed(text: str, span: PhiSpan) -> list[PhiSpan]:
    """A date or phone span cut at "y"/"a"/" / " where every part holds a digit."""
    parts, start = [], span.start
    for match in _COORDINATOR.finditer(text, span.start, span.end):
        parts.append((start, match.start()))
        start = match.end()
    parts.append((start, span.end))
    if len(parts) == 1 or not all(any(c.isdigit() for c in text[a:b]) for a, b in parts):
        return [span]
    return [PhiSpan(a, b, span.type, span.source) for a, b in parts]


def _join_fragments(text: str, spans: list[PhiSpan]) -> list[PhiSpan]:
    joined: list[PhiSpan] = []
    for span in sorted(spans):
        if joined:
            last = joined[-1]
            words = text[last.start:last.end].split()
            if (last.type == span.type and span.type in _JOINED_TYPES and text[last.end:span.start] == " "
                    and words and words[-1].lower() in _JOINERS):
                joined[-1] = PhiSpan(last.start, span.end, span.type, span.source)
                continue
        joined.append(span)
    return joined
