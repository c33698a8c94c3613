"""Identity and the stay's frame: label lines ("Nombre:", "Edad:", "RUT:", "Fecha de ingreso:" ...),
people named in prose, sex and the agreement it implies, ages, identifiers anywhere in the text.

A draft about another person is the worst error an epicrisis can carry, so identity is checked
against the record strictly: a label's value must be the record's, a check-digit-shaped identifier
must be one of the patient's, and a full name in prose must be the patient's or one the record has.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from clinical.checks.context import Context, fold1, norm
from clinical.checks.record_index import normalise_identifier, number_value
from clinical.deid.names.gazetteer import load_gazetteer
from clinical.extract import find_dates
from clinical.record import DischargeCondition, DischargeDestination, Sex

__all__ = ["check_identity", "condition_of", "destination_of", "stay_days_of"]

_LABELS = {
    "nombre": "name", "nombre del paciente": "name", "paciente": "name",
    "edad": "age", "fecha de nacimiento": "birth", "f. nacimiento": "birth", "nacimiento": "birth",
    "sexo": "sex", "genero": "sex", "peso": "weight",
    "rut": "id", "run": "id", "curp": "id", "nss": "id", "dni": "id", "nie": "id", "pasaporte": "id",
    "n.o de ficha clinica": "id", "n.º de ficha clinica": "id", "ficha clinica": "id", "ficha": "id", "nhc": "id",
    "historia clinica": "id", "n.o de historia clinica": "id", "n.º de historia clinica": "id", "expediente": "id",
    "otro identificador": "id", "identificador": "id",
    "servicio": "service",
    "fecha de ingreso": "admitted", "ingreso": "admitted",
    "fecha de egreso": "discharged", "fecha de alta": "discharged", "egreso": "discharged",
    "fecha de fallecimiento": "died", "fallecimiento": "died",
    "estadia": "stay", "dias de hospitalizacion": "stay", "estancia": "stay", "dias de estadia": "stay",
    "condicion al egreso": "condition", "condicion al alta": "condition", "condicion de egreso": "condition",
    "destino al egreso": "destination", "destino al alta": "destination", "destino": "destination",
}
_LABEL = re.compile(
    r"(?<![\w.])(" + "|".join(re.escape(k) for k in sorted(_LABELS, key=len, reverse=True)) + r")\s*:\s*"
)

_SEX_WORDS = {
    "masculino": Sex.MALE, "femenino": Sex.FEMALE, "hombre": Sex.MALE, "mujer": Sex.FEMALE,
    "varon": Sex.MALE, "m": Sex.MALE, "f": Sex.FEMALE, "x": Sex.OTHER, "otro": Sex.OTHER,
    "no binario": Sex.OTHER, "indeterminado": Sex.OTHER,
}
_CONDITIONS = [
    (re.compile(r"\b(mejorad[oa]s?|con mejoria( clinica)?|mejoria clinica)\b"), DischargeCondition.IMPROVED),
    (re.compile(r"\b(en condicion estable|estable|estables)\b"), DischargeCondition.STABLE),
    (re.compile(r"\b(sin cambios( clinicos)?)\b"), DischargeCondition.UNCHANGED),
    (re.compile(r"\b(empeorad[oa]s?|con deterioro( clinico)?|deterioro clinico|agravad[oa])\b"), DischargeCondition.WORSE),
    (re.compile(r"\b(fallecid[oa]s?|fallecimiento|fallece|obito)\b"), DischargeCondition.DECEASED),
]
_DESTINATIONS = [
    (re.compile(r"\bhospitalizacion domiciliaria\b"), DischargeDestination.HOME_HOSPITALIZATION),
    (re.compile(r"\b(a su domicilio|al domicilio|domicilio|a su casa|a casa)\b"), DischargeDestination.HOME),
    (re.compile(r"\b(traslado a otro centro|trasladad[oa] a|con traslado|traslado a)\b"), DischargeDestination.OTHER_HOSPITAL),
    (re.compile(r"\b(establecimiento de larga estadia|larga estadia|eleam)\b"), DischargeDestination.LONG_TERM_CARE),
    (re.compile(r"\b(alta voluntaria)\b"), DischargeDestination.VOLUNTARY),
    (re.compile(r"\b(anatomia patologica)\b"), DischargeDestination.MORGUE),
]

# RUT (with or without dots), CURP, Spanish DNI/NIE, 11-digit NSS: identifier-shaped tokens.
_IDENTIFIER = re.compile(
    r"(?<![\w.])(\d{1,2}\.\d{3}\.\d{3}-[\dkK]|\d{7,8}-[\dkK]|[A-Z][AEIOUX][A-Z]{2}\d{6}[HMX][A-Z]{5}[0-9A-Z]\d"
    r"|[XYZ]\d{7}[A-Z]|\d{8}[A-Z]|\d{11})(?![\w])"
)
_CAPITALISED = re.compile(
    r"(?<![\w])([A-ZÁÉÍÓÚÑÜ][a-záéíóúñü]+(?:[ \t]+(?:(?:de|del|la|las|los|y)[ \t]+)?[A-ZÁÉÍÓÚÑÜ][a-záéíóúñü]+){1,6})"
)
_AGE = re.compile(
    r"(?<![\w.,])(\d{1,3})\s*(anos|ano|meses|mes|dias|dia|semanas)(\s+de\s+edad)?\b"
)
_AGE_CONTEXT = re.compile(
    r"(paciente|varon|hombre|mujer|lactante|escolar|preescolar|adolescente|recien nacid[oa]|edad|nin[oa]|"
    r"senor[a]?|sra?\.?|don|dona|usuari[oa])\s*(de|,)?\s*$"
)
_MALE_FORMS = re.compile(
    r"\b(el paciente|del paciente|al paciente|un paciente|paciente masculino|(?:ingresad|hospitalizad|internad|mejorad|"
    r"empeorad|fallecid|operad|trasladad|egresad|alergic)o|dado de alta)\b"
)
_FEMALE_FORMS = re.compile(
    r"\b(la paciente|una paciente|paciente femenina|(?:ingresad|hospitalizad|internad|mejorad|empeorad|fallecid|"
    r"operad|trasladad|egresad|alergic)a|dada de alta)\b"
)
_SEX_STATEMENT = re.compile(r"\b(sexo\s+(masculino|femenino)|varon|hombre|mujer)\b")


def check_identity(ctx: Context) -> None:
    _label_lines(ctx)
    _full_name(ctx)
    _identifiers(ctx)
    _people(ctx)
    _sex(ctx)
    _ages(ctx)
    if not any(f.field == "patient.name" and f.traced for f in ctx.facts):
        if not any(f.code == "wrong_name" for f in ctx.findings):
            ctx.flag("missing_identity", None, None, "patient.name", text="nombre del paciente")


# --- "Label: value" ---------------------------------------------------------------------------


def _label_lines(ctx: Context) -> None:
    for line in ctx.lines:
        if line.heading:
            continue
        folded = ctx.folded[line.start:line.end]
        matches = list(_LABEL.finditer(folded))
        for i, match in enumerate(matches):
            label = match.group(1)
            value_start = line.start + match.end()
            value_end = line.start + (matches[i + 1].start() if i + 1 < len(matches) else len(folded))
            raw = ctx.text[value_start:value_end]
            stripped = raw.rstrip(" .,;")
            end = value_start + len(stripped)
            if end <= value_start:
                continue
            _check_label(ctx, _LABELS[label], label, value_start, end)


def _check_label(ctx: Context, what: str, label: str, start: int, end: int) -> None:
    stay, value, folded = ctx.stay, ctx.text[start:end], norm(ctx.text[start:end])
    record = ctx.record
    if what == "name":
        if folded == norm(stay.patient.name):
            ctx.trace("identity", start, end, "patient.name")
        elif label != "paciente" or _looks_like_name(value):
            ctx.flag("wrong_name", start, end, "patient.name")
    elif what == "age":
        if folded == norm(record.age_phrase) or _same_age(folded, stay.age_at_admission):
            ctx.trace("identity", start, end, "patient.age_at_admission")
        else:
            ctx.flag("wrong_age", start, end, "patient.age_at_admission")
    elif what == "birth":
        dates = find_dates(value, pivot_year=stay.discharge.discharged_on.year)
        if dates and stay.patient.birth_date is not None and dates[0].date == stay.patient.birth_date:
            ctx.trace("identity", start, end, "patient.birth_date")
        else:
            ctx.flag("wrong_birth_date", start, end, "patient.birth_date")
    elif what == "sex":
        sex = _SEX_WORDS.get(folded)
        if sex is stay.patient.sex:
            ctx.trace("identity", start, end, "patient.sex")
        elif sex is not None or folded:
            ctx.flag("wrong_sex", start, end, "patient.sex")
    elif what == "weight":
        number = re.match(r"\d+(?:[.,]\d+)?", value.strip())
        weight = stay.patient.weight_kg
        if number and weight is not None and number_value(number.group()) == weight:
            ctx.trace("identity", start, end, "patient.weight_kg")
        else:
            ctx.flag("wrong_weight", start, end, "patient.weight_kg")
    elif what == "id":
        key = normalise_identifier(value)
        if key in record.identifiers:
            ctx.trace("identity", start, end, record.identifiers[key])
        else:
            ctx.flag("unknown_identifier", start, end, "patient.identifiers")
    elif what == "service":
        if folded == norm(stay.admission.service) or record.mentions(value):
            ctx.trace("identity", start, end, "admission.service")
        else:
            ctx.flag("wrong_service", start, end, "admission.service")
    elif what in ("admitted", "discharged", "died"):
        _label_date(ctx, what, start, end)
    elif what == "stay":
        days = stay_days_of(folded)
        if days is not None and days == stay.length_of_stay_days:
            ctx.trace("stay", start, end, "length_of_stay_days")
        else:
            ctx.flag("wrong_stay_length", start, end, "length_of_stay_days")
    elif what == "condition":
        condition = condition_of(folded)
        if condition is stay.discharge.condition:
            ctx.trace("discharge", start, end, "discharge.condition")
        else:
            ctx.flag("wrong_condition", start, end, "discharge.condition")
    elif what == "destination":
        destination = destination_of(folded)
        if destination is stay.discharge.destination:
            ctx.trace("discharge", start, end, "discharge.destination")
        else:
            ctx.flag("wrong_destination", start, end, "discharge.destination")


def _label_date(ctx: Context, what: str, start: int, end: int) -> None:
    stay = ctx.stay
    dates = find_dates(ctx.text[start:end], pivot_year=stay.discharge.discharged_on.year)
    if not dates:
        return  # "Ingreso: urgencia" is no date; the date passes look at dates elsewhere
    mention = dates[0]
    s, e = start + mention.start, start + mention.end
    expected = stay.admission.admitted_at.date() if what == "admitted" else stay.discharge.discharged_on
    record_field = "admission.admitted_at" if what == "admitted" else "discharge.discharged_on"
    if what == "died" and not ctx.record.deceased:
        ctx.flag("wrong_condition", s, e, "discharge.condition")
    elif mention.date == expected or (mention.year is None and (mention.day, mention.month) == (expected.day, expected.month)):
        ctx.trace("date", s, e, record_field)
    else:
        ctx.flag("wrong_date", s, e, record_field)


def _same_age(folded: str, years: int) -> bool:
    match = re.fullmatch(r"(\d+)\s*(anos?)?(\s+de\s+edad)?", folded)
    return bool(match) and int(match.group(1)) == years and years >= 1


def _looks_like_name(value: str) -> bool:
    return bool(_CAPITALISED.fullmatch(value.strip()))


def stay_days_of(folded: str) -> int | None:
    """Days in "5 días", "menos de un día", "2 semanas"; None when no length is written."""
    if "menos de un dia" in folded or folded.strip() in ("0 dias", "0"):
        return 0
    match = re.search(r"(\d+)\s*(dias?|semanas?|mes(?:es)?|horas?)?\b", folded)
    if not match:
        return None
    n, unit = int(match.group(1)), match.group(2) or "dia"
    return {"s": n * 7, "m": n * 30, "h": n // 24 if n % 24 == 0 else -1}.get(unit[0], n)


def condition_of(folded: str) -> DischargeCondition | None:
    for pattern, condition in _CONDITIONS:
        if pattern.search(folded):
            return condition
    return None


def destination_of(folded: str) -> DischargeDestination | None:
    for pattern, destination in _DESTINATIONS:
        if pattern.search(folded):
            return destination
    return None


# --- identifiers, people, sex, ages in prose ----------------------------------------------------


def _full_name(ctx: Context) -> None:
    """The patient's whole name, wherever it is written (a heading line, "Paciente X, 72 años")."""
    name = fold1(" ".join(ctx.stay.patient.name.split()))
    at = ctx.folded.find(name)
    while at >= 0:
        end = at + len(name)
        boundary = (at == 0 or not ctx.folded[at - 1].isalnum()) and (end == len(ctx.folded) or not ctx.folded[end].isalnum())
        if boundary and not ctx.is_claimed(at, end):
            ctx.trace("identity", at, end, "patient.name")
        at = ctx.folded.find(name, end)


def _identifiers(ctx: Context) -> None:
    for match in _IDENTIFIER.finditer(ctx.text):
        start, end = match.span()
        if ctx.is_claimed(start, end):
            continue
        key = normalise_identifier(match.group())
        if key in ctx.record.identifiers:
            ctx.trace("identity", start, end, ctx.record.identifiers[key])
        elif ctx.in_copied(start, end) is None and not _is_record_number(ctx, match.group()):
            ctx.flag("unknown_identifier", start, end, "patient.identifiers")


def _is_record_number(ctx: Context, token: str) -> bool:
    value = number_value(token) if re.fullmatch(r"[\d.,]+", token) else None
    return value is not None and value in ctx.record.numbers


def _people(ctx: Context) -> None:
    gazetteer = load_gazetteer()
    name_words = ctx.record.name_words
    for match in _CAPITALISED.finditer(ctx.text):
        start, end = match.span()
        if ctx.is_claimed(start, end) or ctx.in_copied(start, end) is not None:
            continue
        written = [w for w in match.group().split() if w.lower() not in ("de", "del", "la", "las", "los", "y")]
        words = [norm(w) for w in written]
        known = [w for w in written if gazetteer.is_name(w)]
        if len(known) < 2 or len(known) < len(words) - 1:
            continue
        if set(words) <= name_words:
            ctx.trace("identity", start, end, "patient.name")
        elif ctx.record.mentions(match.group()):
            continue  # a person the record itself names (a relative in the evolution notes)
        elif len(set(words) & name_words) == 0 or len(known) >= 2:
            ctx.flag("wrong_name" if _in_identity(ctx, start) else "unknown_person", start, end, "patient.name")


def _in_identity(ctx: Context, pos: int) -> bool:
    line = ctx.line_at(pos)
    return line is not None and line.section in (None, "identificacion")


def _sex(ctx: Context) -> None:
    sex = ctx.stay.patient.sex
    for match in _SEX_STATEMENT.finditer(ctx.folded):
        start, end = match.span()
        if ctx.is_claimed(start, end) or ctx.in_copied(start, end) is not None:
            continue
        stated = _SEX_WORDS.get(match.group(2) or match.group(1))
        if stated is sex:
            ctx.trace("identity", start, end, "patient.sex")
        else:
            ctx.flag("wrong_sex", start, end, "patient.sex")
    # A record that says neither (X) is written without gendered forms: any of them asserts a sex.
    wrong = [_FEMALE_FORMS] if sex is Sex.MALE else [_MALE_FORMS] if sex is Sex.FEMALE else [_MALE_FORMS, _FEMALE_FORMS]
    for pattern in wrong:
        for match in pattern.finditer(ctx.folded):
            start, end = match.span()
            if ctx.in_copied(start, end) is not None:
                continue
            ctx.flag("sex_agreement", start, end, "patient.sex")


def _ages(ctx: Context) -> None:
    record = ctx.record
    expected = norm(record.age_phrase)
    for match in _AGE.finditer(ctx.folded):
        start, end = match.span()
        if ctx.is_claimed(start, end) or ctx.in_copied(start, end) is not None:
            continue
        before = ctx.folded[max(0, start - 30):start]
        if not (match.group(3) or _AGE_CONTEXT.search(before)):
            continue
        phrase = f"{match.group(1)} {match.group(2)}"
        unit = match.group(2)
        years = ctx.stay.age_at_admission
        if phrase == expected or (unit.startswith("ano") and int(match.group(1)) == years and years >= 1):
            ctx.trace("identity", start, end, "patient.age_at_admission")
        else:
            ctx.flag("wrong_age", start, end, "patient.age_at_admission")


def _as_decimal(value: str) -> Decimal | None:
    return number_value(value)


def _date_or_none(value: str, pivot: int) -> dt.date | None:
    found = find_dates(value, pivot_year=pivot)
    return found[0].date if found else None
