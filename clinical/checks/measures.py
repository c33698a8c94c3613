"""Numbers: lab results by test, vital signs by measure, and then every other number in the draft.

The last pass is what makes the review closed-world: any number left (outside list markers and the
record's own copied sentences) must be a value the record holds or derives, or it is a finding. A
dose (a number with a dose unit) the record never gives is ``unknown_dose``; another number
``unknown_number``.
"""

from __future__ import annotations

import re
from decimal import Decimal

from clinical.checks.context import Context, fold1, norm
from clinical.checks.record_index import number_value
from clinical.extract import base_unit, find_doses, normalise_unit

__all__ = ["check_labs", "check_numbers", "check_vitals"]

_VALUE = re.compile(r"^[\s:=]*(?:de\s+)?([<>≤≥]?\s*\d+(?:[.,]\d+)*)")
_NUMBER = re.compile(r"(?<![\w])\d+(?:[.,]\d+)*(?![\w])|(?<![\w])\d+(?:[.,]\d+)*(?=[%°])")
_ENUMERATOR = re.compile(r"(?m)^\s*\d{1,2}[.)](?=\s)")

_VITALS = [
    (re.compile(r"\b(?:pa|ta|presion arterial|tension arterial)\s*:?\s*(\d{2,3})\s*/\s*(\d{2,3})"),
     ("systolic_mmhg", "diastolic_mmhg")),
    (re.compile(r"\b(?:fc|frecuencia cardiaca|pulso)\s*:?\s*(\d{2,3})"), ("heart_rate_bpm",)),
    (re.compile(r"\b(?:fr|frecuencia respiratoria)\s*:?\s*(\d{1,2})"), ("respiratory_rate_rpm",)),
    (re.compile(r"(?:\bt°|\btemperatura|\btax|\bt\.)\s*:?\s*(\d{2}(?:[.,]\d)?)"), ("temperature_c",)),
    (re.compile(r"\b(?:sato2|sat o2|spo2|saturacion(?: de oxigeno| de o2)?|sat)\s*:?\s*(?:de\s+)?(\d{2,3})\s*%"),
     ("spo2_percent",)),
]


def check_labs(ctx: Context) -> None:
    stay = ctx.stay
    names = sorted({norm(lab.name) for lab in stay.labs}, key=len, reverse=True)
    for name in names:
        indexes = [i for i, lab in enumerate(stay.labs) if norm(lab.name) == name]
        folded_name = fold1(stay.labs[indexes[0]].name)
        for match in re.finditer(rf"(?<!\w){re.escape(folded_name)}(?!\w)", ctx.folded):
            ns, ne = match.span()
            if ctx.is_claimed(ns, ne):
                continue
            ctx.trace("lab", ns, ne, f"labs[{indexes[0]}].name")
            if _whole_value(ctx, ne, indexes):
                continue
            if all(number_value(stay.labs[i].value.strip().lstrip("<>≤≥ ")) is None for i in indexes):
                # a result in words ("leucocitos 50-100 por campo") written otherwise than the record has it
                tail = re.match(r"[ :=]*([^;\n]+?)(?=\s*\((?:alterado|fuera de rango)\)|[;\n]|\.\s|\.?$)", ctx.text[ne:ne + 160])
                if tail and re.search(r"\d", tail.group(1)):
                    ctx.flag("wrong_lab_value", ne + tail.start(1), ne + tail.end(1), f"labs[{indexes[0]}].value")
                continue
            value = _VALUE.match(ctx.text[ne:ne + 24])
            if value is None:
                continue
            vs, ve = ne + value.start(1), ne + value.end(1)
            written = value.group(1).lstrip("<>≤≥ ")
            hit = next((i for i in indexes if _same_value(written, stay.labs[i].value)), None)
            if hit is not None:
                ctx.trace("lab", vs, ve, f"labs[{hit}].value")
            else:
                ctx.flag("wrong_lab_value", vs, ve, f"labs[{indexes[0]}].value")
            # the unit that follows must be the test's
            unit = re.match(r"\s*([^\s;,()]+)", ctx.text[ve:ve + 16])
            if unit and stay.labs[indexes[0]].unit and hit is not None:
                recorded = stay.labs[hit].unit or ""
                written_unit = unit.group(1).rstrip(".")
                if _looks_like_unit(written_unit) and norm(written_unit) != norm(recorded) \
                        and written_unit.lower() not in ("(alterado)", "alterado") and norm(recorded):
                    us, ue = ve + unit.start(1), ve + unit.start(1) + len(written_unit)
                    if not recorded.startswith(("/", "%")) or not ctx.text[ve:ve + 1].strip():
                        ctx.flag("wrong_lab_value", us, ue, f"labs[{hit}].unit")


def _whole_value(ctx: Context, at: int, indexes: list[int]) -> bool:
    """A result written as the record has it ("Sedimento urinario: leucocitos 0-2 por campo"): traced whole."""
    tail = ctx.folded[at:at + 80]
    lead = len(tail) - len(tail.lstrip(" :="))
    for i in indexes:
        if number_value(ctx.stay.labs[i].value.strip()) is not None:
            return False  # a number: its value and unit are checked one by one
        value = fold1(" ".join(ctx.stay.labs[i].value.split()))
        if tail[lead:].startswith(value) and (len(tail) == lead + len(value) or not tail[lead + len(value)].isalnum()):
            ctx.trace("lab", at + lead, at + lead + len(value), f"labs[{i}].value")
            return True
    return False


def _looks_like_unit(token: str) -> bool:
    return bool(re.fullmatch(r"[a-zA-Zµμ/%³²0-9.]+", token)) and not token.isdigit() and len(token) <= 12 \
        and token.lower() not in ("y", "e", "en", "de", "del", "el", "la", "con", "sin", "al")


def _same_value(written: str, recorded: str) -> bool:
    a, b = number_value(written), number_value(recorded.strip().lstrip("<>≤≥ "))
    if a is not None and b is not None:
        return a == b
    return norm(written) == norm(recorded)


def check_vitals(ctx: Context) -> None:
    vitals = ctx.stay.vital_signs
    for pattern, fields in _VITALS:
        for match in pattern.finditer(ctx.folded):
            for group, name in enumerate(fields, start=1):
                s, e = match.start(group), match.end(group)
                if ctx.is_claimed(s, e) or ctx.in_copied(s, e) is not None:
                    continue
                value = number_value(match.group(group))
                hit = next((i for i, v in enumerate(vitals)
                            if getattr(v, name) is not None and Decimal(getattr(v, name)) == value), None)
                if hit is not None:
                    ctx.trace("vital_sign", s, e, f"vital_signs[{hit}].{name}")
                elif value is not None and value in ctx.record.numbers and not vitals:
                    continue  # no controls recorded: a number from the notes ("saturación de 88%")
                else:
                    ctx.flag("wrong_vital_sign", s, e, "vital_signs")


def check_numbers(ctx: Context) -> None:
    record = ctx.record
    units = tuple(sorted({m.med.unit for m in record.medications}))
    doses = {(v, m.unit) for m in record.medications for v in m.doses}
    for dose in find_doses(ctx.text, extra_units=units):
        s, e = dose.start, dose.end
        if ctx.is_claimed(s, e):
            continue
        copied = ctx.in_copied(s, e)
        if copied is not None:
            ctx.trace("number", s, e, copied)
            continue
        owner = next((m for m in record.medications if dose.value in m.doses
                      and (normalise_unit(dose.unit) in (m.unit, base_unit(m.unit))
                           or base_unit(dose.unit) == base_unit(m.unit.replace("/kg", "")))), None)
        if owner is not None:
            ctx.trace("medication", s, e, f"{owner.path}.dose")
        elif (dose.value, dose.unit) in doses or dose.value in record.numbers and _record_has_quantity(ctx, dose.text):
            ctx.trace("number", s, e, record.numbers.get(dose.value))
        else:
            ctx.flag("unknown_dose", s, e, None)
    enumerators = {m.start() for m in _ENUMERATOR.finditer(ctx.text)}
    # INDICACIONES repeat the record's instructions: a number there that is not inside one of them
    # (a rest of 14 days where the record says 7) has no other source to be traced to.
    strict = [(line.start, line.end) for line in ctx.section_lines("indicaciones")]
    for match in _NUMBER.finditer(ctx.text):
        s, e = match.span()
        if s in enumerators or ctx.is_claimed(s, e):
            continue
        before = ctx.text[max(0, s - 4):s].lower()
        if before.endswith(("cie-", "icd-", "cie ")):
            continue
        copied = ctx.in_copied(s, e)
        if copied is not None:
            ctx.trace("number", s, e, copied)
            continue
        value = number_value(match.group())
        if any(ls <= s < le for ls, le in strict):
            ctx.flag("unknown_number", s, e, "discharge_instructions")
        elif value is not None and value in record.numbers:
            ctx.trace("number", s, e, record.numbers[value])
        else:
            ctx.flag("unknown_number", s, e, None)


def _record_has_quantity(ctx: Context, written: str) -> bool:
    """A number-with-unit the record's own text holds ("186 mg/L" of a lab, "2 puff" in a frequency)."""
    return ctx.record.mentions(written)
