"""Medications as tuples: drug, dose, unit, route, frequency and duration, matched per drug.

In the treatment sections every line is one prescription: it must be a record medication of that
section (inpatient or discharge), and its dose, route, frequency and duration must be that
medication's, not "a dose that exists somewhere in the record". Every record medication must have
its line. Outside those sections a drug must be one the record names, and a dose written next to it
must be one the record gives that drug.
"""

from __future__ import annotations

import re
from decimal import Decimal

from clinical.checks.context import Context, Line, fold1, item_span, norm
from clinical.checks.record_index import MedicationEntry, number_value
from clinical.extract import base_unit, find_doses, normalise_unit
from clinical.record import Route

__all__ = ["check_medications"]

_SECTIONS = {"tratamiento_alta": ("discharge_medications", "missing_discharge_medication"),
             "tratamiento_hospitalizacion": ("inpatient_medications", "missing_inpatient_medication")}

# Route spellings (folded) -> route. Longest first when compiled.
_ROUTE_WORDS = {
    "via oral": Route.ORAL, "oral": Route.ORAL, "v.o.": Route.ORAL, "vo": Route.ORAL, "por boca": Route.ORAL,
    "via intravenosa": Route.INTRAVENOUS, "intravenosa": Route.INTRAVENOUS, "intravenoso": Route.INTRAVENOUS,
    "endovenosa": Route.INTRAVENOUS, "endovenoso": Route.INTRAVENOUS, "e.v.": Route.INTRAVENOUS, "ev": Route.INTRAVENOUS,
    "i.v.": Route.INTRAVENOUS, "iv": Route.INTRAVENOUS, "via intramuscular": Route.INTRAMUSCULAR,
    "intramuscular": Route.INTRAMUSCULAR, "i.m.": Route.INTRAMUSCULAR, "im": Route.INTRAMUSCULAR,
    "subcutanea": Route.SUBCUTANEOUS, "subcutaneo": Route.SUBCUTANEOUS, "s.c.": Route.SUBCUTANEOUS,
    "sc": Route.SUBCUTANEOUS, "sublingual": Route.SUBLINGUAL, "s.l.": Route.SUBLINGUAL,
    "inhalatoria": Route.INHALED, "inhalada": Route.INHALED, "inhalado": Route.INHALED,
    "en nebulizacion": Route.NEBULIZED, "nebulizada": Route.NEBULIZED, "nebulizado": Route.NEBULIZED,
    "nebulizaciones": Route.NEBULIZED, "topica": Route.TOPICAL, "topico": Route.TOPICAL,
    "transdermica": Route.TRANSDERMAL, "transdermico": Route.TRANSDERMAL, "rectal": Route.RECTAL,
    "vaginal": Route.VAGINAL, "oftalmica": Route.OPHTHALMIC, "oftalmico": Route.OPHTHALMIC,
    "otica": Route.OTIC, "otico": Route.OTIC, "nasal": Route.NASAL, "intranasal": Route.NASAL,
    "enteral": Route.ENTERAL, "por sonda": Route.ENTERAL,
}
_ROUTE = re.compile(r"(?<![\w.])(" + "|".join(re.escape(k) for k in sorted(_ROUTE_WORDS, key=len, reverse=True))
                    + r")(?![\w])")
_FREQUENCY = re.compile(
    r"\b(cada\s+\d+(?:[.,]\d+)?\s*(?:horas?|hrs?|h|dias?|semanas?|minutos?)|c/\s*\d+\s*(?:horas?|hrs?|h|dias?)?"
    r"|\d+\s+veces\s+al\s+dia|una\s+vez\s+al\s+dia|dos\s+veces\s+al\s+dia|tres\s+veces\s+al\s+dia"
    r"|cada\s+noche|en\s+la\s+noche|en\s+la\s+manana|al\s+acostarse|una\s+vez\s+por\s+semana|diari[oa]|"
    r"cada\s+(?:una|dos|tres|cuatro|seis|ocho|doce|veinticuatro)\s+horas)"
)
_DURATION = re.compile(
    r"\b(?:por|durante|x|completar|hasta completar)\s+(\d+|una|un|dos|tres|cuatro|cinco|seis|siete|diez|catorce)"
    r"\s*(dias?|semanas?|meses?|mes)\b"
)


def _canon_frequency(text: str) -> str:
    text = norm(text)
    text = re.sub(r"\bc/\s*(\d+)\s*(?:h|hr|hrs|horas?)?\b", r"cada \1 horas", text)
    text = re.sub(r"\bcada (\d+) (?:h|hr|hrs|hora)\b", r"cada \1 horas", text)
    return text


def _canon_duration(text: str) -> str:
    return norm(text)


def check_medications(ctx: Context) -> None:
    matched: set[str] = set()
    for key, (group, missing_code) in _SECTIONS.items():
        entries = [e for e in ctx.record.medications if e.section == key]
        for line in ctx.section_lines(key):
            entry = _line_entry(ctx, line, entries, matched)
            if entry is None:
                _unknown_line(ctx, line, group)
                continue
            matched.add(entry.path)
            _check_line(ctx, line, entry)
        for entry in entries:
            if entry.path not in matched:
                ctx.flag(missing_code, None, None, entry.path, text=entry.med.name)
    _prose_mentions(ctx)


def _line_entry(ctx: Context, line: Line, entries: list[MedicationEntry],
                matched: set[str] | None = None) -> MedicationEntry | None:
    """The record medication a prescription line is about: by name or lexicon drug, then, when the
    record lists that drug more than once, the entry whose dose, route, frequency and duration the
    line agrees with best (an entry not yet matched first)."""
    folded_line = f" {norm(line.text)} "
    drugs = {m.canonical for m in ctx.lexicon.find(line.text)}
    candidates = [e for e in entries if f" {e.name} " in folded_line or (e.drugs and e.drugs & drugs)]
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    doses = {d.value for d in find_doses(line.text, extra_units=tuple(c.med.unit for c in candidates))}
    canon_line = _canon_frequency(line.text)
    routes = {_ROUTE_WORDS[m.group(1)] for m in _ROUTE.finditer(fold1(line.text))}

    def score(entry: MedicationEntry) -> tuple:
        return (
            f" {entry.name} " in folded_line,
            bool(set(entry.doses) & doses),
            entry.med.route in routes,
            f" {_canon_frequency(entry.med.frequency)} " in f" {canon_line} ",
            bool(entry.med.duration) and f" {norm(entry.med.duration)} " in folded_line,
            not (matched and entry.path in matched),
        )

    return max(candidates, key=score)


def _unknown_line(ctx: Context, line: Line, group: str) -> None:
    start, end = item_span(line)
    text = ctx.text[start:end]
    has_drug = bool(ctx.lexicon.find(text))
    has_dose = bool(find_doses(text)) or bool(re.search(r"\d", text))
    if has_drug or has_dose:
        ctx.flag("unknown_medication", start, end, group)


def _check_line(ctx: Context, line: Line, entry: MedicationEntry) -> None:
    med, path = entry.med, entry.path
    start, end = item_span(line)
    text, folded = ctx.text[start:end], ctx.folded[start:end]
    # the drug name
    name_at = folded.find(norm(med.name)) if norm(med.name) in norm(folded) else -1
    mentions = ctx.lexicon.find(text)
    if name_at >= 0 and folded[name_at:name_at + len(norm(med.name))] == norm(med.name):
        ctx.trace("medication", start + name_at, start + name_at + len(norm(med.name)), f"{path}.name")
    elif mentions:
        ctx.trace("medication", start + mentions[0].start, start + mentions[0].end, f"{path}.name")
    # frequency and duration first: "2 puff cada 6 horas" holds a number that is not the dose
    _check_frequency(ctx, folded, start, entry)
    _check_duration(ctx, folded, start, entry)
    _check_route(ctx, folded, start, entry)
    _check_doses(ctx, text, start, entry)
    # Other drugs on the same line (an added co-medication) are judged by the prose pass.
    ctx.claim(start, end) if not any(m.canonical not in entry.drugs for m in mentions) else None


def _check_doses(ctx: Context, text: str, offset: int, entry: MedicationEntry) -> None:
    unit = entry.unit
    found = False
    combination = re.finditer(r"(?<![\w.,])(\d+(?:[.,]\d+)?(?:\s*/\s*\d+(?:[.,]\d+)?)+)\s*([a-zA-Zµμ]+)?", text)
    for match in combination:
        parts = [number_value(p.strip()) for p in match.group(1).split("/")]
        s, e = offset + match.start(), offset + match.end()
        if ctx.is_claimed(s, e):
            continue
        if tuple(parts) == tuple(entry.doses[:len(parts)]) and len(entry.doses) >= len(parts) > 1:
            ctx.trace("medication", s, e, f"{entry.path}.dose")
            found = True
        elif "/" in match.group(1) and match.group(2):
            ctx.flag("wrong_dose", s, e, f"{entry.path}.dose")
            found = True
    for dose in find_doses(text, extra_units=(entry.med.unit,)):
        s, e = offset + dose.start, offset + dose.end
        if ctx.is_claimed(s, e):
            continue
        found = True
        if dose.value in entry.doses and _same_unit(dose.unit, unit, dose.value, entry):
            ctx.trace("medication", s, e, f"{entry.path}.dose")
        else:
            ctx.flag("wrong_dose", s, e, f"{entry.path}.dose")
    if not found:
        ctx.flag("incomplete_medication", None, None, f"{entry.path}.dose", text=entry.med.name)


def _same_unit(written: str, recorded: str, value: Decimal, entry: MedicationEntry) -> bool:
    if written == recorded or base_unit(written) == base_unit(recorded):
        return True
    # "15 mg/kg (247,5 mg)": the whole dose is written in the unit without "/kg"
    per_kg_base = recorded.replace("/kg", "")
    if "/kg" in recorded and base_unit(written) == base_unit(per_kg_base) and value != entry.doses[0]:
        return True
    # units the lexicon of dose units does not know are compared as written
    return normalise_unit(written) == normalise_unit(recorded)


def _check_route(ctx: Context, folded: str, offset: int, entry: MedicationEntry) -> None:
    routes = [(m, _ROUTE_WORDS[m.group(1)]) for m in _ROUTE.finditer(folded)]
    if not routes:
        ctx.flag("incomplete_medication", None, None, f"{entry.path}.route", text=entry.med.name)
        return
    for match, route in routes:
        s, e = offset + match.start(1), offset + match.end(1)
        if route is entry.med.route or (route is Route.INHALED and entry.med.route is Route.NEBULIZED):
            ctx.trace("medication", s, e, f"{entry.path}.route")
        else:
            ctx.flag("wrong_route", s, e, f"{entry.path}.route")


def _check_frequency(ctx: Context, folded: str, offset: int, entry: MedicationEntry) -> None:
    wanted = _canon_frequency(entry.med.frequency)
    spans = _phrase_spans(folded, wanted, _canon_frequency)
    if spans:
        for s, e in spans:
            ctx.trace("medication", offset + s, offset + e, f"{entry.path}.frequency")
        return
    written = [m for m in _FREQUENCY.finditer(folded) if not ctx.is_claimed(offset + m.start(), offset + m.end())]
    for match in written:
        ctx.flag("wrong_frequency", offset + match.start(), offset + match.end(), f"{entry.path}.frequency")
    if not written:
        ctx.flag("incomplete_medication", None, None, f"{entry.path}.frequency", text=entry.med.name)


def _check_duration(ctx: Context, folded: str, offset: int, entry: MedicationEntry) -> None:
    duration = entry.med.duration
    written = list(_DURATION.finditer(folded))
    if duration:
        spans = _phrase_spans(folded, _canon_duration(duration), _canon_duration)
        if spans:
            for s, e in spans:
                ctx.trace("medication", offset + s, offset + e, f"{entry.path}.duration")
            for match in written:  # a second duration on the same line ("por 1 mes por 10 días")
                s, e = offset + match.start(), offset + match.end()
                if not ctx.is_claimed(s, e):
                    ctx.flag("wrong_duration", s, e, f"{entry.path}.duration")
            return
        for match in written:
            if not ctx.is_claimed(offset + match.start(), offset + match.end()):
                ctx.flag("wrong_duration", offset + match.start(), offset + match.end(), f"{entry.path}.duration")
        if not written:
            ctx.flag("incomplete_medication", None, None, f"{entry.path}.duration", text=entry.med.name)
        return
    for match in written:
        s, e = offset + match.start(), offset + match.end()
        if not ctx.is_claimed(s, e):
            ctx.flag("wrong_duration", s, e, f"{entry.path}.duration")


def _phrase_spans(folded: str, wanted: str, canon) -> list[tuple[int, int]]:  # noqa: ANN001
    """Where ``wanted`` (canonical form) is written in ``folded``, as spans of ``folded``."""
    if not wanted:
        return []
    words = wanted.split()
    # Scan candidate windows by position: a window whose canonical form equals ``wanted``.
    found = []
    tokens = [(m.start(), m.end()) for m in re.finditer(r"[^\s,;:()]+", folded)]
    for i in range(len(tokens)):
        for j in range(i, min(len(tokens), i + len(words) + 3)):
            s, e = tokens[i][0], tokens[j][1]
            if canon(folded[s:e]) == wanted:
                found.append((s, e))
                break
        if found:
            break
    return found


def _prose_mentions(ctx: Context) -> None:
    """Drugs anywhere else: named by the record; a dose right after must be that drug's."""
    for mention in ctx.lexicon.find(ctx.text):
        if ctx.is_claimed(mention.start, mention.end):
            continue
        copied = ctx.in_copied(mention.start, mention.end)
        if copied is not None:
            ctx.trace("medication", mention.start, mention.end, copied)
            continue
        source = ctx.record.drug_field(mention.canonical)
        if source is None:
            ctx.flag("unknown_drug", mention.start, mention.end, None)
            continue
        ctx.trace("medication", mention.start, mention.end, source)
        entries = [e for e in ctx.record.medications if any(ctx.lexicon.covers(d, mention.canonical) for d in e.drugs)]
        if not entries:
            continue
        tail_end = min(len(ctx.text), mention.end + 30)
        tail = ctx.text[mention.end:tail_end]
        cut = re.search(r"[;,\n]| y | e |\. ", tail)
        tail = tail[:cut.start()] if cut else tail
        for dose in find_doses(tail, extra_units=tuple(e.med.unit for e in entries)):
            s, e = mention.end + dose.start, mention.end + dose.end
            if ctx.is_claimed(s, e):
                continue
            owner = next((en for en in entries if dose.value in en.doses
                          and _same_unit(dose.unit, en.unit, dose.value, en)), None)
            if owner is not None:
                ctx.trace("medication", s, e, f"{owner.path}.dose")
            else:
                ctx.flag("wrong_dose", s, e, f"{entries[0].path}.dose")
        for match in _ROUTE.finditer(ctx.folded[mention.end:mention.end + len(tail)]):
            s, e = mention.end + match.start(1), mention.end + match.end(1)
            route = _ROUTE_WORDS[match.group(1)]
            owner = next((en for en in entries if en.med.route is route), None)
            if owner is not None:
                ctx.trace("medication", s, e, f"{owner.path}.route")
            elif match.group(1) not in ("oral", "nasal", "rectal", "vaginal"):  # also ordinary adjectives
                ctx.flag("wrong_route", s, e, f"{entries[0].path}.route")
