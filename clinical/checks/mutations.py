"""Edits that make a faithful draft wrong, one kind at a time: how the review's catch rate is measured.

Each edit kind is what a careless copy, a tired clinician or a language model does to a discharge
summary: another patient's name or identifier, a dose, route, frequency or duration changed on one
drug, a code swapped, a diagnosis added or dropped, a drug added, an allergy denied, a date moved
or made impossible, the stay's length, the condition or destination at discharge, a lab value, a
follow-up date. ``mutations(stay, text, rng)`` returns the edits that apply to a draft; every one
changes a fact, so a review that misses it has missed a real error. ``make eval-checks`` prints the
catch rate per kind.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from collections.abc import Callable
from dataclasses import dataclass

from clinical.identifiers import rut_check_digit
from clinical.record import HospitalStay, Route, Sex
from clinical.writer.spanish import MONTHS, format_date

__all__ = ["KINDS", "Mutation", "mutations"]


@dataclass(frozen=True)
class Mutation:
    kind: str
    text: str


_OTHER_NAMES = ["Claudia Ibáñez Poblete", "Jorge Andrés Vidal Toro", "Rosa María Fuentes Lagos",
                "Luis Alberto Sepúlveda Cruz", "Guadalupe Hernández Ríos", "Francisco Javier Muñoz Soto"]
_ADDED_DIAGNOSES = [("I50.9", "Insuficiencia cardíaca"), ("I48.9", "Fibrilación auricular"),
                    ("N18.3", "Enfermedad renal crónica etapa 3"), ("E03.9", "Hipotiroidismo"),
                    ("J44.1", "Enfermedad pulmonar obstructiva crónica")]
_ADDED_DRUGS = ["Atorvastatina 20 mg vía oral cada noche.", "Warfarina 5 mg vía oral una vez al día.",
                "Prednisona 40 mg vía oral una vez al día por 5 días.", "Ciprofloxacino 500 mg vía oral cada 12 horas."]
_ROUTES_OTHER = {"oral": "intravenosa", "intravenosa": "oral", "subcutánea": "intramuscular",
                 "intramuscular": "subcutánea", "inhalatoria": "oral", "oftálmica": "ótica"}


def _replace_once(text: str, old: str, new: str, rng: random.Random) -> str | None:
    spots = [m.start() for m in re.finditer(re.escape(old), text)]
    if not spots or old == new:
        return None
    at = rng.choice(spots)
    return text[:at] + new + text[at + len(old):]


def _section(text: str, title: str) -> tuple[int, int] | None:
    at = text.find(f"\n{title}\n")
    if at < 0 and text.startswith(f"{title}\n"):
        at = -1
    elif at < 0:
        return None
    start = at + len(title) + 2
    end = text.find("\n\n", start)
    return start, (len(text) if end < 0 else end)


def _lines_in(text: str, title: str) -> list[tuple[int, int]]:
    span = _section(text, title)
    if span is None:
        return []
    out, pos = [], span[0]
    for line in text[span[0]:span[1]].split("\n"):
        out.append((pos, pos + len(line)))
        pos += len(line) + 1
    return out


def _name(stay: HospitalStay, text: str, rng: random.Random) -> str | None:
    other = rng.choice([n for n in _OTHER_NAMES if n != stay.patient.name])
    return text.replace(stay.patient.name, other) if stay.patient.name in text else None


def _sex(stay: HospitalStay, text: str, rng: random.Random) -> str | None:
    swap = {"Sexo: femenino": "Sexo: masculino", "Sexo: masculino": "Sexo: femenino", "Sexo: X": "Sexo: femenino"}
    for old, new in swap.items():
        if old in text:
            return text.replace(old, new)
    return None


def _agreement(stay: HospitalStay, text: str, rng: random.Random) -> str | None:
    if stay.patient.sex is Sex.FEMALE:
        pairs = [("La paciente, ingresada", "El paciente, ingresado"), ("egresa mejorada", "egresa mejorado"),
                 ("La paciente", "El paciente")]
    elif stay.patient.sex is Sex.MALE:
        pairs = [("El paciente, ingresado", "La paciente, ingresada"), ("egresa mejorado", "egresa mejorada"),
                 ("El paciente", "La paciente")]
    else:
        pairs = [("Ingresa el", "El paciente ingresa el")]
    for old, new in pairs:
        if old in text:
            return text.replace(old, new, 1)
    return None


def _age(stay: HospitalStay, text: str, rng: random.Random) -> str | None:
    match = re.search(r"Edad: (\d+) (años|meses|días)", text)
    if not match:
        return None
    n = int(match.group(1))
    new = rng.choice([m for m in (n + 1, n + 10, max(1, n - 3), n * 2 + 1) if m != n])
    return text[:match.start(1)] + str(new) + text[match.end(1):]


def _identifier(stay: HospitalStay, text: str, rng: random.Random) -> str | None:
    for ident in stay.patient.identifiers:
        if ident.value in text:
            if ident.type.value == "RUT":
                body = str(rng.randrange(5_000_000, 25_000_000))
                new = f"{int(body):,}".replace(",", ".") + "-" + rut_check_digit(body)
            else:
                digits = [c for c in ident.value]
                i = max(i for i, c in enumerate(digits) if c.isalnum())
                digits[i] = "7" if digits[i] != "7" else "3"
                new = "".join(digits)
            return text.replace(ident.value, new)
    return None


def _med_line(stay: HospitalStay, text: str, rng: random.Random, title: str = "TRATAMIENTO AL ALTA"):
    lines = [(s, e) for s, e in _lines_in(text, title) if text[s:e].strip()]
    if not lines:
        return None
    return rng.choice(lines)


def _dose(stay: HospitalStay, text: str, rng: random.Random) -> str | None:
    span = _med_line(stay, text, rng) or _med_line(stay, text, rng, "TRATAMIENTO DURANTE LA HOSPITALIZACIÓN")
    if span is None:
        return None
    s, e = span
    line = text[s:e]
    match = re.search(r"(?<=[a-záéíóúñ] )(\d+(?:,\d+)?)(?=(?:/\d+)? [a-zA-Zµ])", line)
    if not match:
        return None
    value = match.group(1)
    new = rng.choice([v for v in ("5", "25", "100", "250", "1000", "2,5", "5000") if v != value])
    return text[:s] + line[:match.start(1)] + new + line[match.end(1):] + text[e:]


def _frequency(stay: HospitalStay, text: str, rng: random.Random) -> str | None:
    span = _med_line(stay, text, rng)
    if span is None:
        return None
    s, e = span
    line = text[s:e]
    match = re.search(r"cada (\d+) horas|una vez al día|en la noche|cada noche", line)
    if match:
        new = rng.choice([f for f in ("cada 6 horas", "cada 8 horas", "cada 12 horas", "dos veces al día")
                          if f != match.group(0)])
        return text[:s] + line[:match.start()] + new + line[match.end():] + text[e:]
    return None


def _duration(stay: HospitalStay, text: str, rng: random.Random) -> str | None:
    span = _med_line(stay, text, rng)
    if span is None:
        return None
    s, e = span
    line = text[s:e]
    match = re.search(r"por (\d+) (días|semanas)", line)
    if match:
        n = int(match.group(1))
        new = f"por {n + rng.choice((1, 3, 7))} {match.group(2)}"
        return text[:s] + line[:match.start()] + new + line[match.end():] + text[e:]
    return text[:s] + line.rstrip(".") + " por 10 días." + text[e:]


def _route(stay: HospitalStay, text: str, rng: random.Random) -> str | None:
    span = _med_line(stay, text, rng)
    if span is None:
        return None
    s, e = span
    line = text[s:e]
    match = re.search(r"vía (\w+)", line)
    if not match or match.group(1) not in _ROUTES_OTHER:
        return None
    return text[:s] + line[:match.start(1)] + _ROUTES_OTHER[match.group(1)] + line[match.end(1):] + text[e:]


def _code(stay: HospitalStay, text: str, rng: random.Random) -> str | None:
    codes = [d.code for d in stay.diagnoses if f"CIE-10: {d.code})" in text]
    if not codes:
        return None
    code = rng.choice(codes)
    if len(stay.diagnoses) > 1 and rng.random() < 0.5:
        other = rng.choice([d.code for d in stay.diagnoses if d.code != code])
        new = other
    else:
        new = code[0] + str((int(code[1:3]) + 7) % 90 + 10) + code[3:]
    return text.replace(f"CIE-10: {code})", f"CIE-10: {new})", 1)


def _added_diagnosis(stay: HospitalStay, text: str, rng: random.Random) -> str | None:
    span = _section(text, "DIAGNÓSTICOS DE EGRESO")
    known = {d.code for d in stay.diagnoses}
    code, description = rng.choice([d for d in _ADDED_DIAGNOSES if d[0] not in known
                                    and description_absent(stay, d[1])] or [("Z99.9", "Dependencia de máquina")])
    if span is None:
        return None
    n = len(stay.diagnoses) + 1
    if rng.random() < 0.5:
        return text[:span[1]] + f"\n{n}. {description} (CIE-10: {code})" + text[span[1]:]
    return text[:span[1]] + f"\n{n}. {description}" + text[span[1]:]


def description_absent(stay: HospitalStay, description: str) -> bool:
    record = stay.model_dump_json().lower()
    return description.lower().split()[0] not in record


def _dropped_diagnosis(stay: HospitalStay, text: str, rng: random.Random) -> str | None:
    lines = [(s, e) for s, e in _lines_in(text, "DIAGNÓSTICOS DE EGRESO") if text[s:e].strip()]
    if not lines:
        return None
    s, e = rng.choice(lines)
    if len(lines) == 1:
        return text[:s] + "Sin diagnósticos consignados." + text[e:]
    return text[:s] + text[e + 1:]


def _added_drug(stay: HospitalStay, text: str, rng: random.Random) -> str | None:
    span = _section(text, "TRATAMIENTO AL ALTA")
    names = stay.model_dump_json().lower()
    options = [d for d in _ADDED_DRUGS if d.split()[0].lower() not in names]
    if not options:
        return None
    drug = rng.choice(options)
    if span is None:
        at = text.find("\n\nINDICACIONES")
        at = at if at >= 0 else len(text.rstrip("\n"))
        return text[:at] + f"\n\nTRATAMIENTO AL ALTA\n1. {drug}" + text[at:]
    return text[:span[1]] + f"\n{len(stay.discharge_medications) + 1}. {drug}" + text[span[1]:]


def _allergy(stay: HospitalStay, text: str, rng: random.Random) -> str | None:
    match = re.search(r"Alergia a [^\n]+\.", text)
    if match and stay.allergies:
        return text[:match.start()] + rng.choice(["No refiere alergias conocidas.", "Sin alergias conocidas."]) \
            + text[match.end():]
    if "No refiere alergias conocidas." in text:
        return text.replace("No refiere alergias conocidas.", "Alergia a penicilina (exantema).")
    span = _section(text, "ANTECEDENTES")
    if span is not None:
        return text[:span[1]] + "\nAlergia a sulfas." + text[span[1]:]
    return None


_WRITTEN_DATE = re.compile(r"\b(\d{1,2}) de (" + "|".join(MONTHS) + r") de (\d{4})\b")


def _impossible_date(stay: HospitalStay, text: str, rng: random.Random) -> str | None:
    dates = list(_WRITTEN_DATE.finditer(text))
    if not dates:
        return None
    match = rng.choice(dates)
    new = rng.choice(["31 de noviembre", "30 de febrero", "31 de abril", "31 de junio", "31 de septiembre"])
    return text[:match.start()] + f"{new} de {match.group(3)}" + text[match.end():]


def _shifted_date(stay: HospitalStay, text: str, rng: random.Random) -> str | None:
    dates = list(_WRITTEN_DATE.finditer(text))
    if not dates:
        return None
    match = rng.choice(dates)
    value = dt.date(int(match.group(3)), MONTHS.index(match.group(2)) + 1, int(match.group(1)))
    shifted = value + dt.timedelta(days=rng.choice((-3, -2, -1, 1, 2, 3, 7)))
    return text[:match.start()] + format_date(shifted) + text[match.end():]


def _stay_length(stay: HospitalStay, text: str, rng: random.Random) -> str | None:
    match = re.search(r"Estadía: (\d+) días?|Estadía: menos de un día", text)
    if not match:
        return None
    days = stay.length_of_stay_days
    new = days + rng.choice((1, 2, 5)) if days else 3
    return text[:match.start()] + f"Estadía: {new} días" + text[match.end():]


def _condition(stay: HospitalStay, text: str, rng: random.Random) -> str | None:
    match = re.search(r"Condición al egreso: ([^\n]+)", text)
    if not match:
        return None
    options = [c for c in ("mejorada", "mejorado", "estable", "empeorado", "empeorada", "fallecido")
               if c != match.group(1) and c[:-1] != match.group(1)[:-1]]
    return text[:match.start(1)] + rng.choice(options) + text[match.end(1):]


def _destination(stay: HospitalStay, text: str, rng: random.Random) -> str | None:
    match = re.search(r"Destino al egreso: ([^\n]+)", text)
    if not match:
        return None
    options = [d for d in ("domicilio", "traslado a otro centro", "hospitalización domiciliaria",
                           "establecimiento de larga estadía") if d != match.group(1)]
    return text[:match.start(1)] + rng.choice(options) + text[match.end(1):]


def _lab_value(stay: HospitalStay, text: str, rng: random.Random) -> str | None:
    labs = [lab for lab in stay.labs if re.search(r"\d", lab.value) and f"{lab.name} {lab.value}" in text]
    if not labs:
        return None
    lab = rng.choice(labs)
    digits = re.search(r"\d+", lab.value)
    n = int(digits.group())
    new_value = lab.value[:digits.start()] + str(n + rng.choice((1, 3, 10, 50))) + lab.value[digits.end():]
    return text.replace(f"{lab.name} {lab.value}", f"{lab.name} {new_value}", 1)


def _follow_up_date(stay: HospitalStay, text: str, rng: random.Random) -> str | None:
    dated = [f for f in stay.follow_ups if f.date and format_date(f.date) in text]
    if not dated:
        return None
    fu = rng.choice(dated)
    shifted = fu.date + dt.timedelta(days=rng.choice((-1, 1, 2, 7, 14)))
    return _replace_once(text, f"{fu.specialty}: {format_date(fu.date)}", f"{fu.specialty}: {format_date(shifted)}", rng)


def _follow_up_place(stay: HospitalStay, text: str, rng: random.Random) -> str | None:
    placed = [f for f in stay.follow_ups if f.place and f", en {f.place}" in text]
    if placed:
        fu = rng.choice(placed)
        return text.replace(f", en {fu.place}", ", en Hospital Clínico San Borja Arriarán", 1)
    lines = [(s, e) for s, e in _lines_in(text, "CONTROLES") if text[s:e].strip()]
    if not lines:
        return None
    s, e = rng.choice(lines)
    return text[:s] + "- Cardiología infantil: en 3 meses." + text[e:]


def _origin(stay: HospitalStay, text: str, rng: random.Random) -> str | None:
    for old, new in ((" desde urgencia", " en forma electiva"), (" en forma electiva", " desde urgencia"),
                     (" desde atención ambulatoria", " desde urgencia"),
                     (" por traslado desde otro centro", " desde urgencia")):
        if old in text:
            return text.replace(old, new, 1)
    return None


def _dropped_drug(stay: HospitalStay, text: str, rng: random.Random) -> str | None:
    span = _med_line(stay, text, rng)
    if span is None:
        return None
    s, e = span
    return text[:s] + text[e + 1:] if text[e:e + 1] == "\n" else text[:s].rstrip("\n") + text[e:]


def _vital(stay: HospitalStay, text: str, rng: random.Random) -> str | None:
    match = rng.choice(list(re.finditer(r"(FC|FR) (\d+)", text)) or [None])
    if match is None:
        return None
    n = int(match.group(2))
    return text[:match.start(2)] + str(n + rng.choice((7, 13, 21))) + text[match.end(2):]


KINDS: dict[str, Callable[[HospitalStay, str, random.Random], str | None]] = {
    "name": _name, "sex": _sex, "sex_agreement": _agreement, "age": _age, "identifier": _identifier,
    "dose": _dose, "frequency": _frequency, "duration": _duration, "route": _route, "code": _code,
    "added_diagnosis": _added_diagnosis, "dropped_diagnosis": _dropped_diagnosis, "added_drug": _added_drug,
    "dropped_drug": _dropped_drug, "allergy": _allergy, "impossible_date": _impossible_date,
    "shifted_date": _shifted_date, "stay_length": _stay_length, "condition": _condition,
    "destination": _destination, "lab_value": _lab_value, "follow_up_date": _follow_up_date,
    "vital_sign": _vital, "follow_up_place": _follow_up_place, "origin": _origin,
}


def mutations(stay: HospitalStay, text: str, rng: random.Random) -> list[Mutation]:
    """One edit of each kind that applies to this draft (a kind that cannot apply is left out)."""
    out = []
    for kind, edit in KINDS.items():
        changed = edit(stay, text, rng)
        if changed is not None and changed != text:
            out.append(Mutation(kind, changed))
    return out


_ = Route  # the route words above are the record's Route values
