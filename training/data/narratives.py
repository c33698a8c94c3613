"""Reference epicrisis in varied clinical phrasing: the text a fine-tuned model learns to write from a record.

The deterministic writer (``clinical.writer``) has one wording; a model trained only on it learns a
template, not the task. These narratives state the same facts the way Chilean and Mexican clinicians
write them: several openings per section, prose or lists, numbered or bulleted items, spelled-out or
abbreviated prescriptions ("vía oral cada 8 horas" / "v.o. c/8 h"), "de" or "del" before the year,
and the two section orders hospitals use. Dates keep the month in words, as the system prompt asks.

Every narrative is faithful by construction: it names every diagnosis with its CIE-10 code, every
procedure and every inpatient and discharge medication with dose, route, frequency and duration
(each in its own treatment section), and it states no
drug, dose or date the record lacks, so ``clinical.checks.check_draft`` passes on it.
"""

from __future__ import annotations

import datetime as dt
import random
import re

from clinical.record import (
    DischargeCondition,
    HospitalStay,
    IdentifierType,
    Medication,
    Route,
    Sex,
    VitalSigns,
)
from clinical.writer.spanish import (
    MONTHS,
    SECTION_TITLES,
    Wording,
    allergy_phrase,
    capfirst,
    clean,
    days_phrase,
    destination_phrase,
    format_age,
    format_decimal,
    format_dose,
    format_vitals,
    identifier_label,
    inline,
    join_list,
    lower_first,
    origin_phrase,
    plural,
    route_phrase,
    sentence,
    with_unit,
)

__all__ = ["REQUIRED_SECTIONS", "SECTION_ORDERS", "check_format", "reference_epicrisis", "section_bodies"]

_T = SECTION_TITLES
# The order of the system prompt, and the one some hospitals use: results before the clinical course.
SECTION_ORDERS: tuple[tuple[str, ...], ...] = (
    tuple(_T[k] for k in ("identificacion", "motivo", "antecedentes", "diagnosticos", "procedimientos",
                          "evolucion", "examenes", "tratamiento_hospitalizacion", "tratamiento_alta",
                          "indicaciones", "controles")),
    tuple(_T[k] for k in ("identificacion", "motivo", "antecedentes", "diagnosticos", "procedimientos",
                          "examenes", "evolucion", "tratamiento_hospitalizacion", "tratamiento_alta",
                          "indicaciones", "controles")),
)
REQUIRED_SECTIONS = (_T["identificacion"], _T["motivo"], _T["diagnosticos"])
_HEADINGS = frozenset(SECTION_ORDERS[0])


def _present(stay: HospitalStay) -> dict[str, bool]:
    """Which sections the record has data for; EVOLUCIÓN is always allowed (the outcome of the stay)."""
    return {
        _T["antecedentes"]: bool(stay.medical_history or stay.surgical_history or stay.allergies is not None),
        _T["procedimientos"]: bool(stay.procedures),
        _T["evolucion"]: stay.evolution is not None,
        _T["examenes"]: bool(stay.labs or stay.vital_signs),
        _T["tratamiento_hospitalizacion"]: bool(stay.inpatient_medications),
        _T["tratamiento_alta"]: bool(stay.discharge_medications),
        _T["indicaciones"]: bool(stay.discharge_instructions),
        _T["controles"]: bool(stay.follow_ups),
    }


def section_bodies(text: str) -> list[tuple[str, str]]:
    """(first line, rest) of each blank-line-separated block of a plain-text epicrisis."""
    blocks = [b for b in re.split(r"\n[ \t]*\n", text.strip()) if b.strip()]
    return [(b.split("\n", 1)[0].strip(), b.split("\n", 1)[1] if "\n" in b else "") for b in blocks]


def check_format(text: str, stay: HospitalStay | None = None) -> list[str]:
    """Layout problems of an epicrisis: unknown, missing, repeated, empty or out-of-order sections.

    Without ``stay`` only IDENTIFICACIÓN, MOTIVO DE INGRESO and DIAGNÓSTICOS DE EGRESO are required;
    with it, every section whose data the record has is required and a section without data is a
    problem. Messages name headings and block numbers, never the text (it may be patient data).
    """
    problems, headings = [], []
    for number, (heading, body) in enumerate(section_bodies(text), start=1):
        if heading not in _HEADINGS:
            problems.append(f"block {number} does not start with a known section heading")
            continue
        if not body.strip():
            problems.append(f"section {heading} is empty")
        if any(line.strip() in _HEADINGS for line in body.splitlines()):
            problems.append(f"a heading inside section {heading} is not preceded by a blank line")
        headings.append(heading)
    for heading in sorted({h for h in headings if headings.count(h) > 1}):
        problems.append(f"section {heading} appears more than once")
    if not any(_is_subsequence(headings, order) for order in SECTION_ORDERS):
        problems.append("sections are not in an accepted order")
    required = set(REQUIRED_SECTIONS)
    if stay is not None:
        present = _present(stay)
        required |= {h for h, has in present.items() if has}
        problems += [f"section {h} has no data in the record" for h in headings
                     if h in present and not present[h] and h != _T["evolucion"]]
    problems += [f"missing section {h}" for h in SECTION_ORDERS[0] if h in required and h not in headings]
    return problems


def _is_subsequence(items: list[str], order: tuple[str, ...]) -> bool:
    position = iter(order)
    return all(any(item == candidate for candidate in position) for item in items)


_ABBREVIATED_ROUTES = {Route.ORAL: "v.o.", Route.SUBCUTANEOUS: "s.c.", Route.INTRAMUSCULAR: "i.m.",
                       Route.SUBLINGUAL: "s.l."}
_LAB_MARKS = (" (alterado)", " (fuera de rango)", "*")


class _Style:
    """One document's choices: a clinician is consistent within an epicrisis, not across them."""

    def __init__(self, stay: HospitalStay, rng: random.Random):
        self.rng = rng
        self.w = Wording(stay.patient.sex)
        self.mexican = any(i.type in (IdentifierType.CURP, IdentifierType.NSS) for i in stay.patient.identifiers)
        self.year_article = "del" if rng.random() < (0.5 if self.mexican else 0.15) else "de"
        self.bullet = rng.choice(("- ", "- ", "• ", None))  # None: numbered lists
        self.abbreviated = rng.random() < 0.35
        self.lab_mark = rng.choice(_LAB_MARKS)
        self.spelled_vitals = rng.random() < 0.3

    def date(self, value: dt.date) -> str:
        return f"{value.day} de {MONTHS[value.month - 1]} {self.year_article} {value.year}"

    def items(self, lines: list[str]) -> list[str]:
        if self.bullet is None:
            return [f"{i}. {line}" for i, line in enumerate(lines, start=1)]
        return [self.bullet + line for line in lines]

    def pick(self, *options: str) -> str:
        return self.rng.choice(options)


def reference_epicrisis(stay: HospitalStay, rng: random.Random) -> str:
    """An epicrisis of ``stay`` in one of many clinical phrasings, drawn with ``rng``."""
    style = _Style(stay, rng)
    bodies = {
        _T["identificacion"]: _identification(stay, style),
        _T["motivo"]: _reason(stay, style),
        _T["antecedentes"]: _history(stay, style),
        _T["diagnosticos"]: _diagnoses(stay, style),
        _T["procedimientos"]: _procedures(stay, style),
        _T["evolucion"]: _evolution(stay, style),
        _T["examenes"]: _results(stay, style),
        _T["tratamiento_hospitalizacion"]: "\n".join(
            style.items([_prescription(m, style, stay) for m in stay.inpatient_medications])),
        _T["tratamiento_alta"]: "\n".join(
            style.items([_prescription(m, style, stay) for m in stay.discharge_medications])),
        _T["indicaciones"]: _instructions(stay, style),
        _T["controles"]: _follow_ups(stay, style),
    }
    order = SECTION_ORDERS[1] if rng.random() < 0.25 else SECTION_ORDERS[0]
    return "\n\n".join(f"{h}\n{bodies[h]}" for h in order if bodies[h]) + "\n"


def _age(stay: HospitalStay) -> str:
    return format_age(stay.age_at_admission, stay.patient.birth_date, stay.admission.admitted_at.date())


def _subject(stay: HospitalStay, style: _Style) -> str:
    """How the first sentence names the patient: ``Paciente de 72 años``, ``Lactante de 8 meses``."""
    age, years, w = _age(stay), stay.age_at_admission, style.w
    if years == 0 and (stay.admission.admitted_at.date() - (stay.patient.birth_date or dt.date.min)).days < 28:
        noun = "Recién nacida" if w.sex is Sex.FEMALE else "Recién nacido" if w.sex is Sex.MALE else "Paciente"
    elif years < 2:
        noun = "Lactante"
    elif years < 6:
        noun = "Preescolar"
    elif years < 12:
        noun = "Escolar"
    elif years < 15:
        noun = "Adolescente"
    else:
        noun = "Paciente"
    return f"{noun} de {age}"


def _identification(stay: HospitalStay, style: _Style) -> str:
    p, w, adm = stay.patient, style.w, stay.admission
    idents = [f"{identifier_label(i.type)}: {inline(i.value)}" for i in p.identifiers]
    admitted, discharged = style.date(adm.admitted_at.date()), style.date(stay.discharge.discharged_on)
    deceased = stay.discharge.condition is DischargeCondition.DECEASED
    end_label = "Fecha de fallecimiento" if deceased else style.pick("Fecha de egreso", "Fecha de alta")
    born = [f"Fecha de nacimiento: {style.date(p.birth_date)}"] if p.birth_date and style.rng.random() < 0.6 else []
    layout = style.rng.randrange(3)
    if layout == 0:
        lines = [f"Nombre: {inline(p.name)}", f"Edad: {_age(stay)}", *born, f"Sexo: {w.sex_label}", *idents,
                 f"Servicio: {inline(adm.service)}", f"Fecha de ingreso: {admitted}", f"{end_label}: {discharged}",
                 f"{style.pick('Estadía', 'Días de hospitalización')}: {days_phrase(stay.length_of_stay_days)}"]
        return "\n".join(lines)
    if layout == 1:
        first = f"Nombre: {inline(p.name)}. Edad: {_age(stay)}. Sexo: {w.sex_label}."
        second = " ".join(f"{i}." for i in idents + born)
        third = f"Servicio: {inline(adm.service)}. Ingreso: {admitted}. {'Fallecimiento' if deceased else 'Egreso'}: {discharged}."
        return "\n".join(line for line in (first, second, third) if line)
    stayed = w.participle("hospitalizado")
    where = f"{capfirst(stayed)} en {inline(adm.service)}" if stayed else f"Hospitalización en {inline(adm.service)}"
    text = f"{inline(p.name)}, {_age(stay)}, sexo {w.sex_label}" + "".join(f", {i}" for i in idents) + "."
    return f"{text}\n{where} desde el {admitted} hasta el {discharged} ({days_phrase(stay.length_of_stay_days)})."


_OWN_SENTENCE = re.compile(r"^(Ingreso|Ingresa|Traslado|Consulta derivada|Puérpera|Paciente|Se )")


def _reason(stay: HospitalStay, style: _Style) -> str:
    adm, w = stay.admission, style.w
    reason = clean(adm.reason).replace("\n", " ")
    when = style.date(adm.admitted_at.date())
    sex = "" if w.neutral else f", sexo {w.sex_label},"
    first, _, rest = reason.partition(". ")
    if _OWN_SENTENCE.match(reason) or not first:
        lead = style.pick(f"{_subject(stay, style)}{sex.rstrip(',')}.",
                          f"Ingresa el {when} a {inline(adm.service)}{origin_phrase(adm.origin)}.")
        return f"{lead} {sentence(reason)}"
    cause = lower_first(first.rstrip("."))
    tail = f" {sentence(rest)}" if rest else ""
    options = [f"{_subject(stay, style)}{sex} que ingresa el {when}{origin_phrase(adm.origin)} por {cause}.",
               f"Ingresa el {when} a {inline(adm.service)}{origin_phrase(adm.origin)} por {cause}.",
               f"Consulta por {cause}. Se hospitaliza en {inline(adm.service)} el {when}."]
    if not w.neutral:
        article = "una" if w.sex is Sex.FEMALE else "un"
        options.append(f"Se trata de {article} {lower_first(_subject(stay, style))} que consulta por {cause}.")
    return style.rng.choice(options) + tail


def _history(stay: HospitalStay, style: _Style) -> str:
    medical = [inline(i) for i in stay.medical_history]
    surgical = [inline(i) for i in stay.surgical_history]
    lines = []
    prose = style.rng.random() < 0.5
    labels = ("Mórbidos", "Quirúrgicos") if not style.mexican or style.rng.random() < 0.5 else (
        "Antecedentes personales patológicos", "Antecedentes quirúrgicos")
    for label, items in zip(labels, (medical, surgical), strict=True):
        if items and prose:
            lines.append(f"{label}: {join_list([items[0]] + [lower_first(i) for i in items[1:]])}.")
        elif items:
            lines += [f"{label}:", *style.items(items)]
    if stay.allergies is not None:
        allergic = style.w.participle("alérgico")
        if not stay.allergies:
            lines.append(style.pick("No refiere alergias conocidas.", "Alergias: niega.", "Sin alergias conocidas.",
                                    "Alergias: negadas." if style.mexican else "Alergias: no conocidas."))
        else:
            listed = join_list([allergy_phrase(a) for a in stay.allergies])
            lines.append(style.pick(f"Alergia a {listed}.", f"Alergias: {listed}.",
                                    f"{capfirst(allergic)} a {listed}." if allergic else f"Alergia a {listed}."))
    return "\n".join(lines)


def _diagnoses(stay: HospitalStay, style: _Style) -> str:
    dxs = [stay.principal_diagnosis, *stay.secondary_diagnoses]
    layout = style.rng.randrange(4)
    if layout == 0:
        return "\n".join(f"{i}. {inline(d.description)} (CIE-10: {d.code})" for i, d in enumerate(dxs, start=1))
    if layout == 1:
        return "\n".join(style.items([f"{d.code} {inline(d.description)}" for d in dxs]))
    if layout == 2:
        lines = [f"Principal: {inline(dxs[0].description)} ({dxs[0].code})."]
        if dxs[1:]:
            lines += ["Secundarios:", *style.items([f"{inline(d.description)} ({d.code})" for d in dxs[1:]])]
        return "\n".join(lines)
    return "\n".join(style.items([f"{inline(d.description)} [{d.code}]" for d in dxs]))


def _procedures(stay: HospitalStay, style: _Style) -> str:
    procs = sorted(stay.procedures, key=lambda p: p.performed_on)
    if not procs:
        return ""
    code = lambda p: f" (código {inline(p.code)})" if p.code else ""  # noqa: E731
    layout = style.rng.randrange(3)
    if layout == 0:
        return "\n".join(style.items([f"{style.date(p.performed_on)}: {inline(p.description)}{code(p)}" for p in procs]))
    if layout == 1:
        return "\n".join(style.items([f"{inline(p.description)}{code(p)}, el {style.date(p.performed_on)}." for p in procs]))
    days: dict[dt.date, list[str]] = {}
    for p in procs:
        days.setdefault(p.performed_on, []).append(lower_first(inline(p.description)) + code(p))
    verb = lambda n: "se realizó" if n == 1 else "se realizaron"  # noqa: E731
    return "\n".join(f"El {style.date(day)} {verb(len(done))} {join_list(done)}." for day, done in days.items())


def _evolution(stay: HospitalStay, style: _Style) -> str:
    service, dx = inline(stay.admission.service), lower_first(inline(stay.principal_diagnosis.description))
    meds = list(dict.fromkeys(lower_first(inline(m.name)) for m in stay.inpatient_medications))[:4]
    if meds and style.rng.random() < 0.4:
        meds = [f"{lower_first(inline(m.name))} {format_dose(m, stay.patient.weight_kg)} {route_phrase(m.route)}"
                for m in stay.inpatient_medications[:3]]
    openings = [f"Se hospitaliza en {service} para manejo de {dx}.", f"Cursa su hospitalización en {service}."]
    if meds:
        openings += [f"Durante la hospitalización recibe tratamiento con {join_list(meds)}.",
                     f"Ingresa a {service}, donde se maneja con {join_list(meds)}."]
    parts = [style.rng.choice(openings)]
    if stay.evolution:
        parts.append(sentence(inline(stay.evolution)))
    parts.append(_outcome(stay, style))
    return " ".join(parts)


def _outcome(stay: HospitalStay, style: _Style) -> str:
    """The closing sentence: when and how the stay ended, agreeing with the patient's sex."""
    w, condition, days = style.w, stay.discharge.condition, stay.length_of_stay_days
    when = "el mismo día" if days == 0 else f"el {style.date(stay.discharge.discharged_on)}"
    length = "" if days == 0 else f", tras {plural(days, 'día', 'días')} de hospitalización"
    if condition is DischargeCondition.DECEASED:
        return style.pick(f"Fallece {when}{length}.", f"Pese al manejo instaurado, fallece {when}.",
                          f"Se constata su fallecimiento {when}.")
    where = destination_phrase(stay.discharge.destination)
    phrase = w.condition_phrase(condition)
    options = [f"Egresa {phrase} {when}{where}{length}.", f"Se indica el alta {when}{where}, {phrase}."]
    if condition is DischargeCondition.IMPROVED:
        options += [f"Evoluciona favorablemente, por lo que se decide el alta {when}{where}.",
                    f"Dada la buena evolución, se otorga el alta {when}{length}."]
    elif condition is DischargeCondition.STABLE:
        options.append(f"Se mantiene estable y se decide el alta {when}{where}.")
    return style.rng.choice(options)


def _vitals_text(vs: VitalSigns, style: _Style) -> str:
    if not style.spelled_vitals:
        text = format_vitals(vs)
        return text.replace("PA ", "TA ", 1) if style.mexican else text
    parts = []
    if vs.systolic_mmhg is not None:
        parts.append(f"presión arterial {vs.systolic_mmhg}/{vs.diastolic_mmhg} mmHg")
    for value, label, unit in ((vs.heart_rate_bpm, "frecuencia cardíaca", "lpm"),
                               (vs.respiratory_rate_rpm, "frecuencia respiratoria", "rpm")):
        if value is not None:
            parts.append(f"{label} {value} {unit}")
    if vs.temperature_c is not None:
        parts.append(f"temperatura {format_decimal(vs.temperature_c)} °C")
    if vs.spo2_percent is not None:
        parts.append(f"saturación de oxígeno {vs.spo2_percent}%")
    return capfirst(", ".join(parts))


def _results(stay: HospitalStay, style: _Style) -> str:
    lines: list[str] = []
    days: dict[dt.date, list[str]] = {}
    for lab in sorted(stay.labs, key=lambda lab: lab.taken_on):
        value = with_unit(inline(lab.value), lab.unit)
        joint = ": " if not lab.unit and value[:1].isupper() else " "  # "Grupo y Rh: O Rh positivo"
        result = f"{inline(lab.name)}{joint}{value}{style.lab_mark if lab.abnormal else ''}"
        days.setdefault(lab.taken_on, []).append(result)
    if days:
        by_line = style.rng.random() < 0.5
        if by_line:
            lines.append(style.pick("Laboratorio:", "Exámenes de laboratorio:"))
            lines += style.items([f"{style.date(day)}: {'; '.join(results)}." for day, results in days.items()])
        else:
            lines += [f"{style.pick('Laboratorio del', 'Exámenes del')} {style.date(day)}: {', '.join(results)}."
                      for day, results in days.items()]
    vitals = sorted(stay.vital_signs, key=lambda v: v.taken_at.replace(tzinfo=None))
    if vitals:
        lines.append(f"Signos vitales al ingreso ({style.date(vitals[0].taken_at.date())}): {_vitals_text(vitals[0], style)}.")
    if len(vitals) > 1:
        label = style.pick("Signos vitales de control", "Último control de signos vitales")
        lines.append(f"{label} ({style.date(vitals[-1].taken_at.date())}): {_vitals_text(vitals[-1], style)}.")
    return "\n".join(lines)


def _prescription(med: Medication, style: _Style, stay: HospitalStay) -> str:
    """One prescription with dose, route, frequency and duration, spelled out or abbreviated."""
    name, frequency = inline(med.name), inline(med.frequency).rstrip(".")
    dose = format_dose(med, stay.patient.weight_kg)
    duration = inline(med.duration) if med.duration else ""
    if style.abbreviated:
        route = _ABBREVIATED_ROUTES.get(med.route, route_phrase(med.route))
        if med.route is Route.INTRAVENOUS:
            route = "i.v." if style.mexican else "e.v."
        frequency = re.sub(r"\bcada (\d+) horas\b", r"c/\1 h", frequency)
        tail = "" if not duration else f" x {duration}" if duration[0].isdigit() else f", {duration}"
        return f"{name} {dose} {route} {frequency}{tail}"
    route = route_phrase(med.route)
    if style.rng.random() < 0.5:
        tail = "" if not duration else f" por {duration}" if duration[0].isdigit() else f", {duration}"
        return f"{name} {dose} {route} {frequency}{tail}."
    tail = "" if not duration else f", durante {duration}" if duration[0].isdigit() else f", {duration}"
    return f"{name}: {dose}, {route}, {frequency}{tail}."


def _instructions(stay: HospitalStay, style: _Style) -> str:
    items = [inline(i).rstrip(".") for i in stay.discharge_instructions]
    if items and style.rng.random() < 0.3:
        return " ".join(f"{capfirst(i)}." for i in items)
    return "\n".join(style.items([f"{capfirst(i)}." for i in items]))


def _follow_ups(stay: HospitalStay, style: _Style) -> str:
    dated = sorted((f for f in stay.follow_ups if f.date), key=lambda f: f.date)
    lines = []
    layout = style.rng.randrange(2)
    for fu in dated + [f for f in stay.follow_ups if not f.date]:
        specialty = inline(fu.specialty)
        when = style.date(fu.date) if fu.date else "fecha por asignar"
        place = f", en {inline(fu.place)}" if fu.place else ""
        note = f" {sentence(capfirst(inline(fu.notes)))}" if fu.notes else ""
        if layout == 0:
            lines.append(f"{specialty}: {when}{place}.{note}")
        else:
            lines.append(f"Control con {specialty} {'el ' + when if fu.date else '(' + when + ')'}{place}.{note}")
    return "\n".join(style.items(lines))
