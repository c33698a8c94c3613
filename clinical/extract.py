"""Find dates and medication doses in Spanish clinical free text, with their character spans.

Used by :mod:`clinical.checks` to compare what a draft says against the record. The writer formats
dates as "15 de enero de 2026" and doses as "500 mg" / "0,5 mg", so those forms must always be
recognised; the other forms are what clinicians and language models also write.

Dates: "15 de enero de 2026", "15 de enero del 2026", "15 de enero" (no year), "1° de enero",
"15 ene 2026", "15/01/2026", "15-01-2026", "15.01.2026", "15/01/26", "2026-01-15". Times ("14:35"),
ages ("72 años") and durations ("7 días") are not dates. "15/01" without a year is not recognised on
purpose: it cannot be told apart from "1/2 comprimido" or a blood pressure.

Doses: a number ("500", "0,5", "0.5", "1.000" = one thousand) followed by a dose unit. A unit
followed by "/" ("mg/dL", "mEq/L") is a laboratory unit, not a dose, except the per-kilogram and
per-time forms ("mg/kg", "mcg/kg/min", "g/día").
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

__all__ = [
    "DOSE_UNITS", "MONTHS", "DateMention", "DoseMention", "base_unit", "find_dates", "find_doses",
    "normalise_unit", "parse_number",
]

MONTHS = {
    "enero": 1, "febrero": 2, "marzo": 3, "abril": 4, "mayo": 5, "junio": 6, "julio": 7,
    "agosto": 8, "septiembre": 9, "setiembre": 9, "octubre": 10, "noviembre": 11, "diciembre": 12,
}
# Abbreviations are only accepted with a year ("15-ene-2026"): "mar" and "ago" are also words.
_MONTH_ABBREVIATIONS = {
    "ene": 1, "feb": 2, "mar": 3, "abr": 4, "may": 5, "jun": 6, "jul": 7, "ago": 8,
    "sep": 9, "sept": 9, "set": 9, "oct": 10, "nov": 11, "dic": 12,
}


@dataclass(frozen=True)
class DateMention:
    """A date written in text; ``year`` is ``None`` for "15 de enero"."""

    start: int
    end: int
    text: str
    day: int
    month: int
    year: int | None

    @property
    def date(self) -> dt.date | None:
        return dt.date(self.year, self.month, self.day) if self.year is not None else None


@dataclass(frozen=True)
class DoseMention:
    """A dose written in text: its value and its unit in normalised spelling (see normalise_unit)."""

    start: int
    end: int
    text: str
    value: Decimal
    unit: str


_MONTH_NAMES = "|".join(sorted(MONTHS, key=len, reverse=True))
_ABBREVIATIONS = "|".join(sorted(_MONTH_ABBREVIATIONS, key=len, reverse=True))
_NO_DIGIT_BEFORE = r"(?<![\w/.,-])"

_DATE_PATTERNS = [
    # 15 de enero de 2026 · 15 de enero del 2026 · 1° de enero · 15 de enero, 2026 · 15 enero 2026
    re.compile(
        _NO_DIGIT_BEFORE + r"(?P<day>\d{1,2})\s*(?:°|º|ro\b)?\s*(?:de\s+)?(?P<month>" + _MONTH_NAMES + r")\b"
        r"(?:,?\s+(?:del?\s+)?(?:año\s+)?(?P<year>(?:19|20)\d{2})(?!\d))?",
        re.IGNORECASE,
    ),
    # 15-ene-2026 · 15 ene. 2026 · 15/ene/26
    re.compile(
        _NO_DIGIT_BEFORE + r"(?P<day>\d{1,2})[\s/-](?P<abbr>" + _ABBREVIATIONS + r")\.?[\s/-]"
        r"(?P<year>(?:19|20)\d{2}|\d{2})(?!\w)(?![/.-]\d)",
        re.IGNORECASE,
    ),
    # 15/01/2026 · 15-01-2026 · 15.01.2026 · 15/01/26 (the same separator twice)
    re.compile(_NO_DIGIT_BEFORE + r"(?P<day>\d{1,2})(?P<sep>[/.-])(?P<nmonth>\d{1,2})(?P=sep)"
               r"(?P<year>(?:19|20)\d{2}|\d{2})(?!\d)(?![/.-]\d)"),
    # 2026-01-15, also at the start of an ISO datetime "2026-01-15T08:00:00"
    re.compile(r"(?<![\w/.-])(?P<year>(?:19|20)\d{2})-(?P<nmonth>\d{1,2})-(?P<day>\d{1,2})(?!\d)(?![/.-]\d)"),
]


def _full_year(digits: str, pivot_year: int | None) -> int:
    """Four-digit year; two digits mean this century unless that is more than 10 years ahead."""
    year = int(digits)
    if len(digits) == 4:
        return year
    this_year = pivot_year if pivot_year is not None else dt.date.today().year
    # "18/04/53" on a 2026 document is a birth date in 1953, "15/01/26" is this year.
    return 2000 + year if 2000 + year <= this_year + 10 else 1900 + year


def find_dates(text: str, *, pivot_year: int | None = None) -> list[DateMention]:
    """Every date in ``text``, left to right; impossible dates (31 de febrero) are skipped.

    ``pivot_year`` fixes how two-digit years are read (default: the current year).
    """
    found: list[DateMention] = []
    for pattern in _DATE_PATTERNS:
        for match in pattern.finditer(text):
            groups = match.groupdict()
            if groups.get("month"):
                month = MONTHS[groups["month"].lower()]
            elif groups.get("abbr"):
                month = _MONTH_ABBREVIATIONS[groups["abbr"].lower()]
            else:
                month = int(groups["nmonth"])
            day = int(groups["day"])
            year = _full_year(groups["year"], pivot_year) if groups.get("year") else None
            try:
                # Without a year, 29 de febrero is still possible: check against a leap year.
                dt.date(year if year is not None else 2000, month, day)
            except ValueError:
                continue
            found.append(DateMention(match.start(), match.end(), match.group(), day, month, year))
    return _without_overlaps(found)


def _without_overlaps(mentions: list) -> list:
    """Keep the earliest, then longest, of overlapping mentions, sorted by position."""
    kept: list = []
    for mention in sorted(mentions, key=lambda m: (m.start, -(m.end - m.start))):
        if kept and mention.start < kept[-1].end:
            continue
        kept.append(mention)
    return kept


# Dose units: spelling (as a regex) -> normalised unit. Longest spellings first in the pattern.
DOSE_UNITS: dict[str, str] = {
    "mg": "mg", "miligramos?": "mg",
    "g": "g", "gr": "g", "gramos?": "g",
    "mcg": "mcg", "µg": "mcg", "μg": "mcg", "ug": "mcg", "microgramos?": "mcg",
    "ui": "UI", "u": "UI", "unidades": "UI", "unidad": "UI",
    "meq": "mEq",
    "ml": "mL", "cc": "mL", "mililitros?": "mL",
    "gotas?": "gota",
    "comprimidos?": "comprimido", "comp": "comprimido", "cp": "comprimido",
    "tabletas?": "comprimido", "tab": "comprimido",
    "c[aá]psulas?": "cápsula", "caps": "cápsula",
    "puffs?": "puff", "inhalaci[oó]n": "puff", "inhalaciones": "puff", "disparos?": "puff",
    "ampollas?": "ampolla", "ampolletas?": "ampolla", "[aá]mpulas?": "ampolla",
    "sobres?": "sobre",
    "supositorios?": "supositorio", "parches?": "parche", "[oó]vulos?": "óvulo", "grageas?": "gragea",
}
_MASS_UNITS = {"mg", "g", "mcg"}
_TIME_SUFFIX = r"d[ií]a|d|24 ?h(?:oras|rs)?|h|hr|hora|min"
_STANDARD_UNIT = (
    r"(?P<unit>" + "|".join(sorted(DOSE_UNITS, key=len, reverse=True)) + r")"
    r"(?P<per_kg>\s?/\s?kg)?(?:\s?/\s?(?P<per_time>" + _TIME_SUFFIX + r"))?"
)
_NUMBER = (
    r"(?<![\w.,/])"
    # "1.000" and "10.000,5": a dot before exactly three digits is a thousands separator; an
    # integer part starting with 0 ("0.500") makes it a decimal point instead.
    r"(?P<number>[1-9]\d{0,2}(?:\.\d{3})+(?:,\d+)?(?![\d.])|\d+(?:[.,]\d+)?)"
)


def parse_number(digits: str) -> Decimal:
    """Parse "500", "0,5", "0.5", "1.000" (thousand) or "1.000,5" into a Decimal."""
    if re.fullmatch(r"[1-9]\d{0,2}(?:\.\d{3})+(?:,\d+)?", digits):
        digits = digits.replace(".", "")
    return Decimal(digits.replace(",", "."))


def _normalise_time(suffix: str) -> str:
    suffix = suffix.lower().replace(" ", "")
    if suffix.startswith("d") or suffix.startswith("24"):
        return "día"
    return "min" if suffix == "min" else "h"


@lru_cache(maxsize=64)
def _dose_pattern(extra_units: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = [re.escape(u) for u in sorted(extra_units, key=len, reverse=True)]
    extra = r"(?P<extra>" + "|".join(alternatives) + r")(?![\w/])|" if alternatives else ""
    # The unit must end the word and must not continue with "/": that is how "mg/dL" is rejected.
    return re.compile(_NUMBER + r"[ \t\u00a0]*(?:" + extra + _STANDARD_UNIT + r"(?![\w/]))", re.IGNORECASE)


def normalise_unit(unit: str) -> str:
    """The normalised spelling of a dose unit ("ml" -> "mL", "µg" -> "mcg", "comprimidos" ->
    "comprimido", "mg/kg/d" -> "mg/kg/día"); an unknown unit is returned trimmed and lowercased."""
    match = re.fullmatch(_STANDARD_UNIT, unit.strip(), re.IGNORECASE)
    if match is None or match.group("unit") == "u" and not unit.strip().startswith("U"):
        return " ".join(unit.split()).lower()
    return _normalise_match(match)


def _normalise_match(match: re.Match[str]) -> str:
    spelled = match.group("unit").lower()
    unit = next(norm for spelling, norm in DOSE_UNITS.items() if re.fullmatch(spelling, spelled))
    if match.group("per_kg"):
        unit += "/kg"
    if match.group("per_time"):
        unit += "/" + _normalise_time(match.group("per_time"))
    return unit


def base_unit(unit: str) -> str:
    """The unit without its per-time part ("g/día" -> "g", "mcg/kg/min" -> "mcg/kg")."""
    for suffix in ("/día", "/h", "/min"):
        if unit.endswith(suffix):
            return unit[: -len(suffix)]
    return unit


def find_doses(text: str, *, extra_units: tuple[str, ...] | list[str] = ()) -> list[DoseMention]:
    """Every dose in ``text``, left to right.

    ``extra_units`` are units to accept as written even though they are not standard dose units,
    typically a record medication's unit such as "mg/dL" or "parche": a draft repeating the
    record's own unit is then checked instead of ignored.
    """
    # Standard units go through the standard path, with its checks ("u" is not "U").
    extras = {u.strip() for u in extra_units if u.strip() and not re.fullmatch(_STANDARD_UNIT, u.strip(), re.I)}
    pattern = _dose_pattern(tuple(sorted(extras)))
    found = []
    for match in pattern.finditer(text):
        if match.groupdict().get("extra"):
            unit = normalise_unit(match.group("extra"))
        else:
            spelled = match.group("unit")
            # Lowercase "u" is the conjunction ("7 u 8 días"); only "U" is a unit.
            if spelled == "u":
                continue
            unit = _normalise_match(match)
            # "mL/min" is a clearance and "mL/h"-style rates of non-mass units are fine, but a
            # per-minute rate only makes sense for a mass ("noradrenalina 0,1 mcg/kg/min").
            if unit.endswith("/min") and unit.split("/")[0] not in _MASS_UNITS:
                continue
            # "dolor 8 sobre 10" is a pain score: "sobre" is only a sachet when no number follows.
            if unit == "sobre" and re.match(r"\s*\d", text[match.end():]):
                continue
        value = parse_number(match.group("number"))
        if value == 0:
            continue
        found.append(DoseMention(match.start(), match.end(), match.group(), value, unit))
    return found
