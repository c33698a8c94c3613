"""Dates: real calendar dates, each one the record holds or derives, and the right one where it stands.

"31 de noviembre" is never a date. A date on a procedure's line must be that procedure's, a date on a
follow-up's line that follow-up's, a date after "ingresa" the admission and after "egresa"/"alta"
the discharge; anywhere else a date must be one of the record's.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re

from clinical.checks.context import Context, Line, norm
from clinical.extract import MONTHS, DateMention, find_dates

__all__ = ["check_dates"]

_MONTH_NAMES = "|".join(sorted(MONTHS, key=len, reverse=True))
_WRITTEN = re.compile(r"(?<![\w/.,-])(\d{1,2})\s*(?:°|º)?\s*(?:de\s+)?(" + _MONTH_NAMES
                      + r")\b(?:,?\s+(?:del?\s+)?(?:año\s+)?((?:19|20)\d{2})(?!\d))?", re.IGNORECASE)
_NUMERIC = re.compile(r"(?<![\w/.,-])(\d{1,2})([/.-])(\d{1,2})\2((?:19|20)\d{2}|\d{2})(?![\d/.-])")
_KEYWORDS = [
    (re.compile(r"ingres|hospitaliz|internad|admision|desde el"), "admitted"),
    (re.compile(r"egres|alta\b|fallec|hasta el|se va|dad[oa] de alta"), "discharged"),
    (re.compile(r"control|citad|cita\b|policlinic"), "follow_up"),
]


def check_dates(ctx: Context) -> None:
    _impossible(ctx)
    pivot = ctx.stay.discharge.discharged_on.year
    for mention in find_dates(ctx.text, pivot_year=pivot):
        start, end = mention.start, mention.end
        if ctx.is_claimed(start, end):
            continue
        copied = ctx.in_copied(start, end)
        if copied is not None:
            ctx.trace("date", start, end, copied)
            continue
        line = ctx.line_at(start)
        if line is not None and _scoped(ctx, line, mention):
            continue
        _by_keyword_or_record(ctx, mention)
    _required(ctx)


def _impossible(ctx: Context) -> None:
    for match in _WRITTEN.finditer(ctx.text):
        day, month = int(match.group(1)), MONTHS[match.group(2).lower()]
        year = int(match.group(3)) if match.group(3) else 2000  # a leap year: 29 de febrero may be real
        if not _valid(year, month, day):
            ctx.flag("impossible_date", match.start(), match.end(), None)
    for match in _NUMERIC.finditer(ctx.text):
        day, month = int(match.group(1)), int(match.group(3))
        year = int(match.group(4)) if len(match.group(4)) == 4 else 2000 + int(match.group(4))
        if not _valid(year, month, day):
            ctx.flag("impossible_date", match.start(), match.end(), None)


def _valid(year: int, month: int, day: int) -> bool:
    return 1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]


def _same(mention: DateMention, value: dt.date | None) -> bool:
    if value is None:
        return False
    if mention.year is None:
        return (mention.day, mention.month) == (value.day, value.month)
    return mention.date == value


def _scoped(ctx: Context, line: Line, mention: DateMention) -> bool:
    """Dates on a procedure, lab, vital-sign or follow-up line; True when handled."""
    stay, folded_line = ctx.stay, f" {norm(line.text)} "
    start, end = mention.start, mention.end
    if line.section == "procedimientos":
        named = [(i, p) for i, p in enumerate(stay.procedures)
                 if f" {norm(p.description)} " in folded_line or (p.code and p.code in line.text)]
        if named:
            hit = next((i for i, p in named if _same(mention, p.performed_on)), None)
            if hit is not None:
                ctx.trace("date", start, end, f"procedures[{hit}].performed_on")
            else:
                ctx.flag("wrong_date", start, end, f"procedures[{named[0][0]}].performed_on")
            return True
    if line.section == "controles":
        named = [(i, f) for i, f in enumerate(stay.follow_ups) if f" {norm(f.specialty)} " in folded_line]
        if named:
            hit = next((i for i, f in named if _same(mention, f.date)), None)
            if hit is not None:
                ctx.trace("follow_up", start, end, f"follow_ups[{hit}].date")
            else:
                ctx.flag("wrong_follow_up", start, end, f"follow_ups[{named[0][0]}].date")
            return True
    labs = [(i, lab) for i, lab in enumerate(stay.labs) if f" {norm(lab.name)} " in folded_line]
    valued = [(i, lab) for i, lab in labs if f" {norm(lab.name)} {norm(lab.value)} " in folded_line]
    labs = valued or labs  # "Hemoglobina 8,9" dates the 8,9 result, not another hemoglobin
    if labs and line.section in ("examenes", None) and not re.search(r"signos vitales|control", folded_line):
        hit = next((i for i, lab in labs if _same(mention, lab.taken_on)), None)
        if hit is not None:
            ctx.trace("lab", start, end, f"labs[{hit}].taken_on")
        else:
            ctx.flag("wrong_date", start, end, f"labs[{labs[0][0]}].taken_on")
        return True
    if "signos vitales" in folded_line and stay.vital_signs:
        hit = next((i for i, v in enumerate(stay.vital_signs) if _same(mention, v.taken_at.date())), None)
        if hit is not None:
            ctx.trace("vital_sign", start, end, f"vital_signs[{hit}].taken_at")
        else:
            ctx.flag("wrong_date", start, end, "vital_signs")
        return True
    return False


def _by_keyword_or_record(ctx: Context, mention: DateMention) -> None:
    stay, start, end = ctx.stay, mention.start, mention.end
    line = ctx.line_at(start)
    line_start = line.start if line is not None else 0
    window = ctx.folded[max(line_start, start - 60):start]
    window = re.split(r"[.;]\s", window)[-1]  # the same sentence only
    keyword = None
    best = -1
    for pattern, name in _KEYWORDS:
        for match in pattern.finditer(window):
            if match.start() > best:
                best, keyword = match.start(), name
    admitted, discharged = stay.admission.admitted_at.date(), stay.discharge.discharged_on
    if keyword == "admitted" and _same(mention, admitted):
        ctx.trace("date", start, end, "admission.admitted_at")
    elif keyword == "discharged" and _same(mention, discharged):
        ctx.trace("date", start, end, "discharge.discharged_on")
    elif keyword == "follow_up" and any(_same(mention, f.date) for f in stay.follow_ups):
        i = next(i for i, f in enumerate(stay.follow_ups) if _same(mention, f.date))
        ctx.trace("follow_up", start, end, f"follow_ups[{i}].date")
    elif keyword in ("admitted", "discharged"):
        ctx.flag("wrong_date", start, end, "admission.admitted_at" if keyword == "admitted" else "discharge.discharged_on")
    elif keyword == "follow_up" and stay.follow_ups and not any(_same(mention, d) for d in ctx.record.dates):
        ctx.flag("wrong_follow_up", start, end, "follow_ups")
    else:
        record = ctx.record
        if mention.date is not None and mention.date in record.dates:
            ctx.trace("date", start, end, record.dates[mention.date])
        elif mention.date is None and (mention.day, mention.month) in record.day_months:
            ctx.trace("date", start, end, record.day_months[(mention.day, mention.month)])
        elif mention.date is not None and (mention.day, mention.month) in record.day_months \
                and mention.year is not None and (mention.day, mention.month) in record.yearless:
            ctx.trace("date", start, end, record.day_months[(mention.day, mention.month)])
        else:
            ctx.flag("unknown_date", start, end, None)


def _required(ctx: Context) -> None:
    stay = ctx.stay
    traced = {f.field for f in ctx.facts if f.traced}
    flagged = {f.field for f in ctx.findings}
    for record_field, what in (("admission.admitted_at", "fecha de ingreso"),
                               ("discharge.discharged_on", "fecha de egreso")):
        if record_field not in traced and record_field not in flagged:
            ctx.flag("missing_date", None, None, record_field, text=what)
    for i, fu in enumerate(stay.follow_ups):
        path = f"follow_ups[{i}].date"
        if fu.date is not None and path not in traced and path not in flagged \
                and not any(f.field == "follow_ups" or (f.field or "").startswith(f"follow_ups[{i}]") for f in ctx.findings):
            ctx.flag("missing_follow_up", None, None, path, text=fu.specialty)
