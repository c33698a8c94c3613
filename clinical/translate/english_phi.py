"""Restored PHI as an English reader needs it: dates and ages in English, everything else as written.

Re-identification puts each original back in place of its placeholder. In an English translation,
a name or a RUT is right as written, but "21 de febrero de 2002" or "93 años" is Spanish in the
middle of English, and "03/04/2016" is read as March 4th by a US clinician when the Spanish
writer meant 3 April. :func:`render_in_english` rewrites what it understands (Spanish written
dates, day/month/year dates, ages) into unambiguous English ("21 February 2002", "3 April 2016",
"93 years") and leaves anything else exactly as the source wrote it: a value it cannot parse is
never guessed at.
"""

from __future__ import annotations

import re

__all__ = ["render_in_english"]

_MONTHS = {
    "enero": "January", "ene": "January", "febrero": "February", "feb": "February", "marzo": "March",
    "mar": "March", "abril": "April", "abr": "April", "mayo": "May", "may": "May", "junio": "June",
    "jun": "June", "julio": "July", "jul": "July", "agosto": "August", "ago": "August",
    "septiembre": "September", "setiembre": "September", "sept": "September", "sep": "September",
    "set": "September", "octubre": "October", "oct": "October", "noviembre": "November", "nov": "November",
    "diciembre": "December", "dic": "December",
}
_NUMBERED_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
                    "October", "November", "December")
_MONTH = r"(?P<month>[a-záéíóú]+)\.?"
_WRITTEN = [
    re.compile(rf"(?i)^(?:el\s+)?(?P<day>\d{{1,2}})(?:\s+de)?\s+{_MONTH}(?:(?:\s+del?|,)?\s+(?P<year>\d{{4}}))?$"),
    re.compile(rf"(?i)^(?P<day>\d{{1,2}})-{_MONTH}-(?P<year>\d{{4}}|\d{{2}})$"),
    re.compile(rf"(?i)^{_MONTH}(?:(?:\s+del?|,)?\s+(?P<year>\d{{4}}))?$"),
]
_NUMERIC = re.compile(r"^(?P<day>\d{1,2})(?P<sep>[/.-])(?P<month>\d{1,2})(?P=sep)(?P<year>\d{4})$")
_AGE_UNITS = {"año": "year", "años": "years", "mes": "month", "meses": "months", "semana": "week",
              "semanas": "weeks", "día": "day", "días": "days", "dias": "days", "hora": "hour", "horas": "hours"}
_AGE = re.compile(r"(?i)^(?P<n>\d{1,3})\s+(?P<unit>[a-zíáñ]+)(?P<of_age>\s+de\s+(?:edad|vida))?$")


def _date(original: str) -> str | None:
    text = original.strip()
    numeric = _NUMERIC.match(text)
    if numeric:
        day, month = int(numeric["day"]), int(numeric["month"])
        if 1 <= day <= 31 and 1 <= month <= 12:
            return f"{day} {_NUMBERED_MONTHS[month - 1]} {numeric['year']}"
        return None
    for pattern in _WRITTEN:
        match = pattern.match(text)
        if match is None:
            continue
        month = _MONTHS.get(match["month"].lower())
        if month is None:
            return None
        day = match.groupdict().get("day")
        parts = [str(int(day))] if day else []
        parts.append(month)
        if match["year"]:
            parts.append(match["year"])
        return " ".join(parts)
    return None


def _age(original: str) -> str | None:
    match = _AGE.match(original.strip())
    if match is None:
        return None
    unit = _AGE_UNITS.get(match["unit"].lower())
    if unit is None:
        return None
    if match["n"] == "1" and unit.endswith("s"):
        unit = unit[:-1]
    return f"{match['n']} {unit}" + (" old" if match["of_age"] else "")


def render_in_english(placeholder_type: str, original: str) -> str:
    """``original`` (the PHI a ``__PHI_<placeholder_type>_<n>__`` stood for) as English text shows it."""
    rendered = None
    if placeholder_type == "FECHA":
        rendered = _date(original)
    elif placeholder_type == "EDAD":
        rendered = _age(original)
    if rendered is None:
        return original
    # Keep the original's surrounding whitespace, which the placeholder's neighbours rely on.
    lead = original[:len(original) - len(original.lstrip())]
    trail = original[len(original.rstrip()):]
    return lead + rendered + trail
