"""Spanish wording helpers for the epicrisis writer: dates, lists, numbers, doses and agreement.

Everything here is deterministic and locale-independent (no ``locale``/``strftime``): the output
must be byte-identical on every machine, and month names must not depend on the server's locale.
All user-visible wording outside the templates lives in this module, so that ``TEMPLATE_VERSION``
(a hash over the templates and this file) changes whenever the wording changes.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from clinical.record import (
    AdmissionOrigin,
    Allergy,
    DischargeCondition,
    DischargeDestination,
    IdentifierType,
    Lab,
    Medication,
    Route,
    Sex,
    VitalSigns,
    dose_parts,
    is_per_kg,
)

# fmt: off
MONTHS = (
    "enero", "febrero", "marzo", "abril", "mayo", "junio",
    "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre",
)
# fmt: on

SECTION_TITLES = {
    "identificacion": "IDENTIFICACIÓN",
    "motivo": "MOTIVO DE INGRESO",
    "antecedentes": "ANTECEDENTES",
    "diagnosticos": "DIAGNÓSTICOS DE EGRESO",
    "procedimientos": "PROCEDIMIENTOS",
    "evolucion": "EVOLUCIÓN",
    "examenes": "EXÁMENES RELEVANTES",
    "tratamiento_hospitalizacion": "TRATAMIENTO DURANTE LA HOSPITALIZACIÓN",
    "tratamiento_alta": "TRATAMIENTO AL ALTA",
    "indicaciones": "INDICACIONES",
    "controles": "CONTROLES",
}

# A date as format_date writes it; lets checkers and tests find every date in a rendering.
WRITTEN_DATE = re.compile(r"\b([1-9]|[12][0-9]|3[01]) de (" + "|".join(MONTHS) + r") de ([0-9]{4})\b")


def format_date(value: dt.date) -> str:
    """A date written out the way a Spanish clinical document does: ``15 de enero de 2026``.

    A datetime is written as its date only (times are never needed in the prose).
    """
    return f"{value.day} de {MONTHS[value.month - 1]} de {value.year}"


def plural(n: int, singular: str, plural_form: str) -> str:
    """A count with its noun in the right number: ``1 día``, ``0 días``, ``5 días``."""
    return f"{n} {singular if n == 1 else plural_form}"


def format_age(years: int, birth_date: dt.date | None, on: dt.date) -> str:
    """Age for the identification block; infants get months or days, as paediatrics writes it."""
    if years >= 1:
        return plural(years, "año", "años")
    if birth_date is None:
        return "menor de 1 año"
    months = (on.year - birth_date.year) * 12 + on.month - birth_date.month - (on.day < birth_date.day)
    if months >= 1:
        return plural(months, "mes", "meses")
    return days_phrase((on - birth_date).days)  # a newborn admitted on its birth day: "menos de un día"


def days_phrase(days: int) -> str:
    """A number of whole days as a noun phrase: ``5 días``, ``1 día``; 0 (same day) is ``menos de un día``."""
    return "menos de un día" if days <= 0 else plural(days, "día", "días")


_VOWELS_AFTER_HI = set("aeouáéóúü")


def _takes_e(word: str) -> bool:
    """Whether the conjunction ``y`` becomes ``e`` before ``word`` (it starts with the sound /i/).

    ``hi`` followed by a vowel is a diphthong pronounced /j/ (hielo, hiato), which keeps ``y``.
    """
    letters = word.lstrip("¿¡\"'«(“").lower()
    if letters.startswith("h"):
        rest = letters[1:]
        if rest[:1] not in ("i", "í"):
            return False
        return rest[1:2] not in _VOWELS_AFTER_HI
    return letters[:1] in ("i", "í")


def join_list(items: Iterable[str], conjunction: str = "y") -> str:
    """Items joined as Spanish prose: ``A``, ``A y B``, ``A, B y C`` (``e`` before /i/: ``A e Hipertensión``).

    No comma before the conjunction (Spanish has no serial comma).
    """
    parts = [str(item) for item in items]
    if not parts:
        return ""
    if len(parts) == 1:
        return parts[0]
    last = parts[-1]
    word = conjunction
    if conjunction == "y" and _takes_e(last):
        word = "e"
    return f"{', '.join(parts[:-1])} {word} {last}"


def format_decimal(value: Decimal | int) -> str:
    """A number with a decimal comma, no thousands separator and no trailing zeros: ``0,5``, ``2``."""
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    # normalize() drops trailing zeros but may produce exponents (1E+2); "f" writes them out.
    text = format(number.normalize(), "f")
    return text.replace(".", ",")


# Count units agree with the dose ("1 gota", "2 gotas"); abbreviations (mg, UI, mL) never change.
_COUNT_UNITS = {
    "gota": "gotas",
    "comprimido": "comprimidos",
    "cápsula": "cápsulas",
    "tableta": "tabletas",
    "ampolla": "ampollas",
    "sobre": "sobres",
    "inhalación": "inhalaciones",
    "unidad": "unidades",
    "supositorio": "supositorios",
    "parche": "parches",
    "óvulo": "óvulos",
    "gragea": "grageas",
}
_COUNT_UNITS_SINGULAR = {plural_form: singular for singular, plural_form in _COUNT_UNITS.items()}


def format_unit(dose: Decimal, unit: str) -> str:
    """The unit in the number the dose asks for; unknown units are written exactly as recorded."""
    key = unit.lower()
    if dose == 1 and key in _COUNT_UNITS_SINGULAR:
        return _COUNT_UNITS_SINGULAR[key]
    if dose != 1 and key in _COUNT_UNITS:
        return _COUNT_UNITS[key]
    return unit


def format_dose(med: Medication, weight_kg: Decimal | None = None) -> str:
    """Dose and unit of a medication as written in a prescription: ``500 mg``, ``0,5 mg``, ``1 gota``,
    ``875/125 mg`` for a combination product, ``15 mg/kg (165 mg)`` for a per-kg dose."""
    parts = dose_parts(med.dose)
    if len(parts) > 1:
        return f"{'/'.join(format_decimal(p) for p in parts)} {med.unit}"
    text = f"{format_decimal(parts[0])} {format_unit(parts[0], med.unit)}"
    total = per_kg_total(med, weight_kg)
    if total is not None:
        text += f" ({format_decimal(total[0])} {total[1]})"
    return text


def prescription(med: Medication, weight_kg: Decimal | None = None) -> str:
    """One prescription line: ``Levofloxacino 750 mg vía oral cada 24 horas por 2 días.``"""
    text = (f"{inline(med.name)} {format_dose(med, weight_kg)} {route_phrase(med.route)} "
            f"{inline(med.frequency).strip('.')}{duration_phrase(med.duration)}")
    return sentence(text)


def per_kg_total(med: Medication, weight_kg: Decimal | None) -> tuple[Decimal, str] | None:
    """The whole dose of a per-kg prescription for this weight: 15 mg/kg at 11 kg is (165, "mg").

    Rounded to one decimal, as a nurse would draw it up; None when the dose is not per kg.
    """
    if weight_kg is None or not is_per_kg(med.unit) or len(dose_parts(med.dose)) != 1:
        return None
    unit = re.sub(r"\s*/\s*kg\b", "", med.unit, flags=re.IGNORECASE).strip()
    total = (dose_parts(med.dose)[0] * weight_kg).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return total, unit


_ROUTES = {Route.NEBULIZED: "en nebulización"}


def route_phrase(route: Route) -> str:
    """How a route reads in a prescription: ``vía oral``; nebulised drugs are ``en nebulización``."""
    return _ROUTES.get(route, f"vía {route.value}")


def duration_phrase(duration: str | None) -> str:
    """The tail a treatment duration adds to a prescription line: `` por 7 días``, ``, hasta control``."""
    if not duration:
        return ""
    duration = inline(duration)
    return f" por {duration}" if duration[0].isdigit() else f", {duration}"


def with_unit(value: str, unit: str | None) -> str:
    """A lab result with its unit; ``%`` and ``/mm³``-style units attach without a space."""
    if not unit:
        return value
    return f"{value}{unit}" if unit[0] in "%/" else f"{value} {unit}"


def lab_phrase(lab: Lab) -> str:
    """One lab result: ``Creatinina 0,9 mg/dL``; abnormal ones end in ``(alterado)`` (the result is)."""
    text = f"{inline(lab.name)} {with_unit(inline(lab.value), lab.unit)}"
    return f"{text} (alterado)" if lab.abnormal else text


def format_vitals(vs: VitalSigns) -> str:
    """One vital-sign control in the abbreviations Chilean charts use: ``PA 142/84 mmHg, FC 104 lpm``."""
    parts = []
    if vs.systolic_mmhg is not None:
        parts.append(f"PA {vs.systolic_mmhg}/{vs.diastolic_mmhg} mmHg")
    if vs.heart_rate_bpm is not None:
        parts.append(f"FC {vs.heart_rate_bpm} lpm")
    if vs.respiratory_rate_rpm is not None:
        parts.append(f"FR {vs.respiratory_rate_rpm} rpm")
    if vs.temperature_c is not None:
        parts.append(f"T° {format_decimal(vs.temperature_c)} °C")
    if vs.spo2_percent is not None:
        parts.append(f"SatO2 {vs.spo2_percent}%")
    return ", ".join(parts)


def inline(text: str) -> str:
    """Free text on one line: any run of whitespace (newlines included) becomes one space."""
    return " ".join(str(text).split())


def clean(text: str) -> str:
    """Multi-line free text with its line breaks but no blank lines (a blank line ends a section)."""
    lines = (" ".join(line.split()) for line in str(text).splitlines())
    return "\n".join(line for line in lines if line)


def sentence(text: str) -> str:
    """Text closed with a full stop unless it already ends in final punctuation."""
    text = text.rstrip()
    return text if not text or text[-1] in ".!?…" else f"{text}."


def capfirst(text: str) -> str:
    """Text with its first character in uppercase (the rest untouched)."""
    return text[:1].upper() + text[1:]


def lower_first(text: str) -> str:
    """A capitalised common noun lowered for mid-sentence use: ``Penicilina`` -> ``penicilina``.

    Acronyms and words with inner capitals (``AINE``, ``VIH``, ``McDonald``) are left alone.
    """
    first = text.split(" ", 1)[0]
    if len(first) > 1 and first[0].isupper() and first[1:] == first[1:].lower():
        return text[0].lower() + text[1:]
    return text


def allergy_phrase(allergy: Allergy) -> str:
    """One allergy after "Alergia a": ``penicilina (exantema)``."""
    substance = lower_first(inline(allergy.substance))
    return f"{substance} ({inline(allergy.reaction)})" if allergy.reaction else substance


_IDENTIFIER_LABELS = {
    IdentifierType.RUT: "RUT",
    IdentifierType.CURP: "CURP",
    IdentifierType.NSS: "NSS",
    IdentifierType.NHC: "N.º de ficha clínica",
    IdentifierType.DNI: "DNI",
    IdentifierType.NIE: "NIE",
    IdentifierType.PASSPORT: "Pasaporte",
    IdentifierType.OTHER: "Otro identificador",
}


def identifier_label(kind: IdentifierType) -> str:
    """The label an identifier is written under in the identification block."""
    return _IDENTIFIER_LABELS[kind]


_ORIGINS = {
    AdmissionOrigin.EMERGENCY: " desde urgencia",
    AdmissionOrigin.OUTPATIENT: " desde atención ambulatoria",
    AdmissionOrigin.ELECTIVE: " en forma electiva",
    AdmissionOrigin.TRANSFER: " por traslado desde otro centro",
    AdmissionOrigin.OTHER: "",
}


def origin_phrase(origin: AdmissionOrigin) -> str:
    """What follows 'ingresa el <fecha>' about where the patient came from (leading space)."""
    return _ORIGINS[origin]


_DESTINATIONS = {
    DischargeDestination.HOME: " a su domicilio",
    DischargeDestination.HOME_HOSPITALIZATION: " a hospitalización domiciliaria",
    DischargeDestination.OTHER_HOSPITAL: " con traslado a otro centro",
    DischargeDestination.LONG_TERM_CARE: " a un establecimiento de larga estadía",
    DischargeDestination.VOLUNTARY: " por alta voluntaria",
    DischargeDestination.MORGUE: "",  # only meaningful after death, which has its own wording
}


def destination_phrase(destination: DischargeDestination) -> str:
    """What follows 'egresa el <fecha>' about where the patient goes (leading space)."""
    return _DESTINATIONS[destination]


# Forms per sex: (masculine, feminine, neutral). The neutral form sidesteps gendered adjectives and
# participles with a noun phrase ("mejoría clínica"), so nothing defaults to the masculine.
_CONDITION_LABELS = {
    DischargeCondition.IMPROVED: ("mejorado", "mejorada", "mejoría clínica"),
    DischargeCondition.STABLE: ("estable", "estable", "estable"),
    DischargeCondition.UNCHANGED: ("sin cambios", "sin cambios", "sin cambios"),
    DischargeCondition.WORSE: ("empeorado", "empeorada", "deterioro clínico"),
    DischargeCondition.DECEASED: ("fallecido", "fallecida", "fallecimiento"),
}
_CONDITION_PHRASES = {  # after "egresa"
    DischargeCondition.IMPROVED: ("mejorado", "mejorada", "con mejoría clínica"),
    DischargeCondition.STABLE: ("en condición estable",) * 3,
    DischargeCondition.UNCHANGED: ("sin cambios clínicos",) * 3,
    DischargeCondition.WORSE: ("con deterioro clínico",) * 3,
}  # no entry for DECEASED: death is written with its own verb ("fallece"), not after "egresa"
_SEX_LABELS = {Sex.MALE: "masculino", Sex.FEMALE: "femenino", Sex.OTHER: "X"}


@dataclass(frozen=True)
class Wording:
    """Gender agreement for one patient: articles, nouns and participles that depend on sex.

    For ``Sex.OTHER`` there is no article or gendered participle; templates check ``neutral`` and
    rephrase with a finite verb (``Ingresa el ...``) instead of ``el/la paciente, ingresado/a``.
    """

    sex: Sex

    @property
    def neutral(self) -> bool:
        """Whether sentences must avoid articles and gendered forms (sex recorded as X)."""
        return self.sex is Sex.OTHER

    def _pick(self, forms: tuple[str, str, str]) -> str:
        return forms[{Sex.MALE: 0, Sex.FEMALE: 1, Sex.OTHER: 2}[self.sex]]

    @property
    def sex_label(self) -> str:
        """The value after "Sexo:": ``femenino``, ``masculino`` or ``X`` as recorded."""
        return _SEX_LABELS[self.sex]

    @property
    def patient(self) -> str:
        """``el paciente`` / ``la paciente`` / ``paciente`` (no article for neutral wording)."""
        return self._pick(("el paciente", "la paciente", "paciente"))

    def participle(self, masculine: str) -> str | None:
        """``ingresado`` -> ``ingresada`` for a woman; None for neutral wording (rephrase instead)."""
        if self.neutral:
            return None
        if self.sex is Sex.FEMALE and masculine.endswith("o"):
            return masculine[:-1] + "a"
        return masculine

    def condition_label(self, condition: DischargeCondition) -> str:
        """Condition at discharge as the value of a label: ``mejorada``, ``mejoría clínica``."""
        return self._pick(_CONDITION_LABELS[condition])

    def condition_phrase(self, condition: DischargeCondition) -> str:
        """Condition at discharge as it follows the verb ``egresa``: ``mejorada``, ``en condición estable``.

        Only for living patients; a KeyError for DECEASED catches a template that forgot that case.
        """
        return self._pick(_CONDITION_PHRASES[condition])


_FILTERS = {
    "date": format_date,
    "join_list": join_list,
    "decimal": format_decimal,
    "dose": format_dose,
    "prescription": prescription,
    "route": route_phrase,
    "duration": duration_phrase,
    "with_unit": with_unit,
    "vitals": format_vitals,
    "lab": lab_phrase,
    "inline": inline,
    "clean": clean,
    "sentence": sentence,
    "capfirst": capfirst,
    "lower_first": lower_first,
    "identifier_label": identifier_label,
    "allergy": allergy_phrase,
    "origin": origin_phrase,
    "destination": destination_phrase,
}


def filters() -> dict[str, object]:
    """The jinja2 filters the templates use, by name."""
    return dict(_FILTERS)
