"""Statements about the stay: allergies, the condition and destination at discharge, its length.

"No refiere alergias" for a patient the record calls allergic to penicillin is a contradiction; an
allergy the record lacks is an invented fact; a recorded allergy the draft leaves out is missing.
"""

from __future__ import annotations

import re

from clinical.checks.context import Context, fold1, item_span, norm
from clinical.checks.identity import condition_of, destination_of, stay_days_of
from clinical.extract import find_dates
from clinical.record import AdmissionOrigin, DischargeCondition

__all__ = ["check_allergies", "check_discharge", "check_follow_ups"]

_NO_ALLERGY = re.compile(
    r"\b(no refiere alergias?(?: conocidas| medicamentosas)?|niega alergias?(?: conocidas| medicamentosas)?"
    r"|sin alergias?(?: conocidas| medicamentosas)?|no alergic[oa]s?|no es alergic[oa]"
    r"|alergias?\s*:\s*(?:no|niega|negadas?|ninguna|no conocidas|no refiere|sin)\b"
    r"|no (?:tiene|presenta|registra) alergias?(?: conocidas)?)"
)
_ALLERGY = re.compile(r"\b(alergi(?:a|as)|alergic[oa]s?)\s*(?:a|al|a la|:|conocidas?\s*:)\s+([^.\n;]+)")


def check_allergies(ctx: Context) -> None:
    stay, record = ctx.stay, ctx.record
    allergies = stay.allergies
    for match in _NO_ALLERGY.finditer(ctx.folded):
        s, e = match.span()
        if ctx.is_claimed(s, e) or ctx.in_copied(s, e) is not None:
            continue
        if allergies == []:
            ctx.trace("allergy", s, e, "allergies")
        elif allergies:
            ctx.flag("allergy_contradicted", s, e, "allergies")
        else:
            ctx.flag("unknown_allergy", s, e, "allergies")  # the record does not say
    mentioned: set[int] = set()
    for match in _ALLERGY.finditer(ctx.folded):
        s, e = match.start(2), match.end(2)
        if ctx.is_claimed(match.start(), match.end()):
            continue
        listed = ctx.folded[s:e]
        if re.match(r"\s*(no|niega|negad|ninguna|sin)\b", listed):
            continue
        hits = [i for i, a in enumerate(allergies or []) if norm(a.substance) in norm(listed)
                or _covers(ctx, a.substance, listed)]
        if hits:
            mentioned.update(hits)
            ctx.trace("allergy", s, e, f"allergies[{hits[0]}].substance")
        elif ctx.in_copied(s, e) is not None or record.mentions(listed) and allergies:
            continue
        elif allergies == []:
            ctx.flag("allergy_contradicted", s, e, "allergies")
        else:
            ctx.flag("unknown_allergy", s, e, "allergies")
    for i, allergy in enumerate(allergies or []):
        if i in mentioned:
            continue
        if norm(allergy.substance) and f" {norm(allergy.substance)} " in f" {norm(ctx.text)} ":
            continue  # named, if not after the word "alergia" ("penicilina: exantema")
        ctx.flag("missing_allergy", None, None, f"allergies[{i}]", text=allergy.substance)


def _covers(ctx: Context, substance: str, listed: str) -> bool:
    wanted = {m.canonical for m in ctx.lexicon.find(substance)}
    written = {m.canonical for m in ctx.lexicon.find(listed)}
    return bool(wanted and written and any(ctx.lexicon.covers(w, x) or ctx.lexicon.covers(x, w)
                                           for w in wanted for x in written))


_OUTCOME = re.compile(
    r"\b(egresa|egreso|se va|se otorga el alta|se indica el alta|se decide el alta|alta)\b[^.\n]{0,60}"
)
_STAY_PROSE = re.compile(
    r"\b(?:estadia|estancia|hospitalizacion|hospitalizad[oa]|internad[oa])\s+(?:de|por|durante)\s+"
    r"((?:\d+|un|una)\s+dias?|menos de un dia)|\b(\d+)\s+dias?\s+de\s+(?:hospitalizacion|estadia|estancia)"
)
_DEATH = re.compile(r"\b(fallece|fallecio|fallecid[oa]|fallecimiento|obito|defuncion)\b")


def check_discharge(ctx: Context) -> None:
    stay = ctx.stay
    for match in _STAY_PROSE.finditer(ctx.folded):
        s, e = match.span()
        if ctx.is_claimed(s, e) or ctx.in_copied(s, e) is not None:
            continue
        phrase = match.group(1) or f"{match.group(2)} dias"
        days = stay_days_of(phrase.replace("un dia", "1 dia").replace("una dia", "1 dia")) \
            if "menos" not in phrase else 0
        if days == stay.length_of_stay_days:
            ctx.trace("stay", s, e, "length_of_stay_days")
        else:
            ctx.flag("wrong_stay_length", s, e, "length_of_stay_days")
    for match in _OUTCOME.finditer(ctx.folded):
        clause = match.group(0)
        s0 = match.start()
        condition = _condition_span(clause)
        if condition is not None:
            cs, ce, value = condition
            s, e = s0 + cs, s0 + ce
            if not ctx.is_claimed(s, e) and ctx.in_copied(s, e) is None:
                if value is stay.discharge.condition:
                    ctx.trace("discharge", s, e, "discharge.condition")
                else:
                    ctx.flag("wrong_condition", s, e, "discharge.condition")
        destination = _destination_span(clause)
        if destination is not None:
            ds, de, value = destination
            s, e = s0 + ds, s0 + de
            if not ctx.is_claimed(s, e) and ctx.in_copied(s, e) is None:
                if value is stay.discharge.destination:
                    ctx.trace("discharge", s, e, "discharge.destination")
                else:
                    ctx.flag("wrong_destination", s, e, "discharge.destination")
    if stay.discharge.condition is not DischargeCondition.DECEASED:
        for match in _DEATH.finditer(ctx.folded):
            s, e = match.span()
            if not ctx.is_claimed(s, e) and ctx.in_copied(s, e) is None:
                ctx.flag("wrong_condition", s, e, "discharge.condition")


def _condition_span(clause: str):  # noqa: ANN202
    best = None
    for pattern in (r"\b(mejorad[oa]s?|con mejoria clinica)\b", r"\b(en condicion estable|estable)\b",
                    r"\b(sin cambios clinicos|sin cambios)\b", r"\b(empeorad[oa]s?|con deterioro clinico)\b"):
        m = re.search(pattern, clause)
        if m and (best is None or m.start() < best[0]):
            best = (m.start(), m.end(), condition_of(m.group(1)))
    return best


def _destination_span(clause: str):  # noqa: ANN202
    m = re.search(r"\b(a hospitalizacion domiciliaria|hospitalizacion domiciliaria|a su domicilio|al domicilio"
                  r"|con traslado a otro centro|traslado a otro centro|a un establecimiento de larga estadia"
                  r"|larga estadia|por alta voluntaria|alta voluntaria)\b", clause)
    if m is None:
        return None
    return m.start(), m.end(), destination_of(m.group(1))


_ORIGINS = [
    (re.compile(r"\b(desde|por|de) (el )?(servicio de )?urgencias?\b"), AdmissionOrigin.EMERGENCY),
    (re.compile(r"\bdesde (la )?atencion ambulatoria\b|\bdesde (el )?policlinico\b|\bdesde (su )?(domicilio|casa)\b"),
     AdmissionOrigin.OUTPATIENT),
    (re.compile(r"\ben forma electiva\b|\bde forma electiva\b|\bingreso electivo\b"), AdmissionOrigin.ELECTIVE),
    (re.compile(r"\bpor traslado desde\b|\btrasladad[oa] desde\b"), AdmissionOrigin.TRANSFER),
]


def check_origin(ctx: Context) -> None:
    """Where the patient came from ("ingresa desde urgencia", "en forma electiva")."""
    origin = ctx.stay.admission.origin
    for pattern, value in _ORIGINS:
        for match in pattern.finditer(ctx.folded):
            s, e = match.span()
            if ctx.is_claimed(s, e) or ctx.in_copied(s, e) is not None:
                continue
            if value is origin:
                ctx.trace("stay", s, e, "admission.origin")
            else:
                ctx.flag("wrong_origin", s, e, "admission.origin")


def check_follow_ups(ctx: Context) -> None:
    """Each line of CONTROLES is a follow-up of the record (its specialty), at the record's place."""
    stay = ctx.stay
    check_origin(ctx)
    for line in ctx.section_lines("controles"):
        start, end = item_span(line)
        folded = f" {norm(ctx.text[start:end])} "
        named = [i for i, f in enumerate(stay.follow_ups) if f" {norm(f.specialty)} " in folded]
        if not named:
            # A follow-up the record lacks ("Cardiología: 3 de marzo", "Control con Cardiología en 1 mes");
            # a line with no such fact ("Revisado.", a signature) is the clinician's and is left alone.
            line_text = ctx.folded[start:end]
            dated = bool(find_dates(ctx.text[start:end])) or re.search(r"\ben \d+ (dias|semanas|meses)\b", line_text)
            if end > start and (dated or re.search(r"\b(control|cita|citad[oa]|consulta|policlinico)\b", line_text)) \
                    and not re.match(r"\s*(firma|firmado|revisado|dr|dra)\b", line_text):
                ctx.flag("wrong_follow_up", start, end, "follow_ups")
            continue
        placed = [i for i in named if stay.follow_ups[i].place
                  and f" {norm(stay.follow_ups[i].place)} " in folded]
        i = placed[0] if placed else named[0]
        at = ctx.folded.find(fold1(stay.follow_ups[i].specialty), start, end)
        if at >= 0:
            ctx.trace("follow_up", at, at + len(stay.follow_ups[i].specialty), f"follow_ups[{i}].specialty")
        if placed:
            place = fold1(" ".join(stay.follow_ups[i].place.split()))
            at = ctx.folded.find(place, start, end)
            if at >= 0:
                ctx.trace("follow_up", at, at + len(place), f"follow_ups[{i}].place")
            continue
        written = re.search(r",\s*en\s+(.+?)(?=\.\s+[A-ZÁÉÍÓÚÑ]|\.?$)", ctx.text[start:end])
        if written is not None:
            ctx.flag("wrong_follow_up", start + written.start(1), start + written.end(1), f"follow_ups[{i}].place")
