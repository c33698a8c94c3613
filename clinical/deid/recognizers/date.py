"""Dates: numeric (``12/05/2016``, ``3-7-04``) and written out (``21 de febrero de 2002``, ``mayo del 2006``,
``30-marzo-2004``)."""

from __future__ import annotations

import re

from clinical.deid.recognizers.pattern_recognizer import PatternRecognizer

__all__ = ["DateRecognizer"]

# Full month names, or the usual abbreviations with an optional full stop ("sep.", "dic").
_MONTHS = (
    r"(?:enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|setiembre|octubre|noviembre|diciembre"
    r"|(?:ene|feb|mar|abr|may|jun|jul|ago|sept|sep|set|oct|nov|dic)\.?)"
)
_NUMERIC = r"\d{1,2}(?P<sep>[/.-])\d{1,2}(?P=sep)(?:\d{4}|\d{2})"
_DAY_MONTH_YEAR = (rf"\d{{1,2}}(?:\s+de)?\s+{_MONTHS}(?:(?:\s+de(?:l)?|,)?\s+\d{{4}})?"
                   rf"|\d{{1,2}}-{_MONTHS}-(?:\d{{4}}|\d{{2}})")
_MONTH_YEAR = rf"{_MONTHS}(?:\s+de(?:l)?|,)?\s+\d{{4}}|{_MONTHS}-\d{{2}}(?:\d{{2}})?"


class DateRecognizer(PatternRecognizer):
    """Day-month-year in digits (a real calendar day), or Spanish day/month/year in words.

    Weekday names, bare years and bare month names are left to the statistical recogniser,
    which sees their context ("en 1993", "Estadio TNM 2003").
    """

    name = "date"
    phi_type = "FECHAS"
    pattern = re.compile(
        rf"(?i)(?<![\w/.-])(?:{_NUMERIC}|{_DAY_MONTH_YEAR}|{_MONTH_YEAR})(?![\w/-])"
    )

    def validate(self, value: str) -> bool:
        parts = re.split(r"[/.-]", value)
        if len(parts) == 3 and all(p.isdigit() for p in parts):
            day, month = int(parts[0]), int(parts[1])
            return 1 <= day <= 31 and 1 <= month <= 12
        match = re.match(r"\d+", value)
        return match is None or 1 <= int(match.group()) <= 31
