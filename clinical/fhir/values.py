"""Values that change shape between Alta's Spanish text and FHIR's structured types."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

# A lab value as Chilean and Mexican labs write a number: "15.800", "0,9", "<5".
_LAB_NUMBER = re.compile(r"^(<=|>=|<|>)?(\d{1,3}(?:\.\d{3})+|\d+)(?:,(\d+))?$")


def format_lab_number(value: Decimal) -> str:
    """A number as Spanish lab reports write it: "." between thousands, "," before decimals."""
    shown = value.normalize() if value == value.to_integral_value() else value  # 1.5E+3 -> 1500
    whole, _, fraction = format(abs(shown), "f").partition(".")
    grouped = f"{int(whole):,}".replace(",", ".")
    return ("-" if value < 0 else "") + grouped + ("," + fraction if fraction else "")


def parse_lab_number(text: str) -> tuple[str | None, Decimal] | None:
    """(comparator, value) when ``text`` is a number that FHIR's Quantity carries back unchanged, else None.

    Only values that come back as the same text through JSON are made Quantities; the rest ("1000"
    written without the thousands dot, "negativos", "3,10") travel as valueString.
    """
    m = _LAB_NUMBER.match(text)
    if not m:
        return None
    number = Decimal(m.group(2).replace(".", "") + ("." + m.group(3) if m.group(3) else ""))
    through_json = Decimal(repr(float(number)))
    if (m.group(1) or "") + format_lab_number(through_json) != text:
        return None
    return m.group(1), number


def _n(value: Any) -> str:
    d = Decimal(str(value))
    return str(int(d)) if d == d.to_integral_value() else format(d.normalize(), "f").replace(".", ",")


_UNITS = {"h": ("hora", "horas"), "d": ("día", "días"), "wk": ("semana", "semanas"), "mo": ("mes", "meses"),
          "min": ("minuto", "minutos"), "a": ("año", "años")}
_UNIT_CODES = {word: code for code, pair in _UNITS.items() for word in pair}


def frequency_from_timing(timing: Any) -> str | None:
    """Timing.repeat as Alta's Spanish frequency ("cada 8 horas", "2 veces al día"), when it is that simple."""
    repeat = timing.repeat if timing is not None else None
    if repeat is None or repeat.period is None or repeat.periodUnit not in ("h", "d", "wk"):
        return None
    times = int(repeat.frequency or 1)
    period = Decimal(str(repeat.period))
    singular, plural = _UNITS[repeat.periodUnit]
    if times == 1:
        if period == 1:
            return {"h": "cada hora", "d": "una vez al día", "wk": "una vez a la semana"}[repeat.periodUnit]
        return f"cada {_n(period)} {plural}"
    if period == 1:
        return f"{times} veces al {singular}" if repeat.periodUnit == "d" else f"{times} veces por {singular}"
    return f"{times} veces cada {_n(period)} {plural}"


def duration_from_bounds(duration: Any) -> str | None:
    """A Duration as Alta's Spanish duration ("7 días")."""
    if duration is None or duration.value is None:
        return None
    pair = _UNITS.get(duration.code or "") or _UNITS.get(_UNIT_CODES.get(duration.unit or "", ""))
    if pair is None:
        return None
    value = Decimal(str(duration.value))
    return f"{_n(value)} {pair[0] if value == 1 else pair[1]}"


_DURATION = re.compile(r"^(\d+) (" + "|".join(_UNIT_CODES) + r")$")


def duration_to_bounds(text: str) -> dict[str, Any] | None:
    """Alta's "7 días" as a FHIR Duration (UCUM), for readers that do not know Alta's extension."""
    m = _DURATION.match(text.strip())
    if not m:
        return None
    return {"value": int(m.group(1)), "unit": m.group(2), "system": "http://unitsofmeasure.org",
            "code": _UNIT_CODES[m.group(2)]}
