"""Tests for the Spanish wording helpers of the epicrisis writer."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from clinical.record import DischargeCondition, Lab, Medication, Route, Sex, VitalSigns
from clinical.writer import spanish
from clinical.writer.spanish import (
    Wording,
    format_age,
    format_date,
    format_decimal,
    format_dose,
    join_list,
    plural,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (dt.date(2026, 1, 15), "15 de enero de 2026"),
        (dt.date(2025, 3, 1), "1 de marzo de 2025"),
        (dt.date(2024, 9, 30), "30 de septiembre de 2024"),
        (dt.date(2023, 12, 31), "31 de diciembre de 2023"),
        (dt.datetime(2026, 1, 10, 14, 35), "10 de enero de 2026"),  # the time is not written
    ],
)
def test_format_date(value: dt.date, expected: str) -> None:
    assert format_date(value) == expected


def test_every_month_is_named_and_matched_by_the_date_pattern() -> None:
    for month in range(1, 13):
        text = format_date(dt.date(2026, month, 9))
        assert spanish.WRITTEN_DATE.fullmatch(text), text
    assert format_date(dt.date(2026, 8, 9)) == "9 de agosto de 2026"


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        ([], ""),
        (["A"], "A"),
        (["A", "B"], "A y B"),
        (["A", "B", "C"], "A, B y C"),
        (["fiebre", "ictericia"], "fiebre e ictericia"),
        (["Diabetes", "Hipertensión"], "Diabetes e Hipertensión"),
        (["dolor", "íleo"], "dolor e íleo"),
        (["fiebre", "hígado graso"], "fiebre e hígado graso"),
        (["agua", "hielo"], "agua y hielo"),  # hie- is a diphthong: /j/, keeps "y"
        (["cobre", "hierro"], "cobre y hierro"),
        (["nieve", "hiato"], "nieve y hiato"),
        (["sodio", "yodo"], "sodio y yodo"),
        (["penicilina", "AINE", "Ibuprofeno"], "penicilina, AINE e Ibuprofeno"),
        (
            ["ibuprofeno", "penicilina"],
            "ibuprofeno y penicilina",
        ),  # only the word after the conjunction matters
    ],
)
def test_join_list(items: list[str], expected: str) -> None:
    assert join_list(items) == expected


def test_plural() -> None:
    assert plural(1, "día", "días") == "1 día"
    assert plural(5, "día", "días") == "5 días"
    assert plural(0, "procedimiento", "procedimientos") == "0 procedimientos"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("0.5"), "0,5"),
        (Decimal("2.0"), "2"),
        (Decimal("2.50"), "2,5"),
        (Decimal("1.25"), "1,25"),
        (Decimal("100"), "100"),
        (Decimal("1E+3"), "1000"),  # no exponent, no thousands separator
        (Decimal("1500000"), "1500000"),
        (Decimal("0.0125"), "0,0125"),
        (3, "3"),
    ],
)
def test_format_decimal(value: Decimal, expected: str) -> None:
    assert format_decimal(value) == expected


def _med(dose: str, unit: str, route: Route = Route.ORAL) -> Medication:
    return Medication(name="X", dose=Decimal(dose), unit=unit, route=route, frequency="cada 8 horas")


@pytest.mark.parametrize(
    ("dose", "unit", "expected"),
    [
        ("500", "mg", "500 mg"),
        ("0.5", "mg", "0,5 mg"),
        ("2.5", "mL", "2,5 mL"),
        ("1000", "UI", "1000 UI"),
        ("1", "gotas", "1 gota"),  # count units agree with the number
        ("20", "gotas", "20 gotas"),
        ("2", "comprimido", "2 comprimidos"),
        ("1", "comprimido", "1 comprimido"),
        ("2", "puff", "2 puff"),  # unknown units stay as recorded
    ],
)
def test_format_dose(dose: str, unit: str, expected: str) -> None:
    assert format_dose(_med(dose, unit)) == expected


def test_route_phrase() -> None:
    assert spanish.route_phrase(Route.ORAL) == "vía oral"
    assert spanish.route_phrase(Route.SUBCUTANEOUS) == "vía subcutánea"
    assert spanish.route_phrase(Route.NEBULIZED) == "en nebulización"


def test_duration_phrase() -> None:
    assert spanish.duration_phrase(None) == ""
    assert spanish.duration_phrase("7 días") == " por 7 días"
    assert spanish.duration_phrase("hasta control") == ", hasta control"


def test_days_phrase_and_age() -> None:
    assert spanish.days_phrase(0) == "menos de un día"
    assert spanish.days_phrase(1) == "1 día"
    assert spanish.days_phrase(12) == "12 días"
    on = dt.date(2026, 1, 10)
    assert format_age(72, dt.date(1953, 4, 18), on) == "72 años"
    assert format_age(1, None, on) == "1 año"
    assert format_age(0, dt.date(2025, 5, 20), on) == "7 meses"
    assert format_age(0, dt.date(2025, 12, 10), on) == "1 mes"
    assert format_age(0, dt.date(2025, 12, 29), on) == "12 días"
    assert format_age(0, on, on) == "menos de un día"
    assert format_age(0, None, on) == "menor de 1 año"


def test_wording_agrees_with_sex() -> None:
    female, male, other = Wording(Sex.FEMALE), Wording(Sex.MALE), Wording(Sex.OTHER)
    assert (female.patient, male.patient, other.patient) == ("la paciente", "el paciente", "paciente")
    assert (female.participle("ingresado"), male.participle("ingresado")) == ("ingresada", "ingresado")
    assert other.participle("ingresado") is None  # neutral wording must rephrase with a verb
    assert other.neutral and not female.neutral and not male.neutral
    improved = DischargeCondition.IMPROVED
    assert female.condition_label(improved) == "mejorada"
    assert male.condition_label(improved) == "mejorado"
    assert other.condition_label(improved) == "mejoría clínica"
    assert female.condition_label(DischargeCondition.DECEASED) == "fallecida"
    assert female.condition_phrase(DischargeCondition.STABLE) == "en condición estable"
    assert other.condition_phrase(improved) == "con mejoría clínica"
    assert (female.sex_label, male.sex_label) == ("femenino", "masculino")


def test_text_helpers() -> None:
    assert spanish.lower_first("Penicilina") == "penicilina"
    assert spanish.lower_first("Ácido acetilsalicílico") == "ácido acetilsalicílico"
    assert spanish.lower_first("AINE") == "AINE"
    assert spanish.inline("  Dolor \n torácico  ") == "Dolor torácico"
    assert spanish.clean("Línea uno.\n\n\n  Línea dos.  \n") == "Línea uno.\nLínea dos."
    assert spanish.sentence("Reposo") == "Reposo."
    assert spanish.sentence("Reposo.") == "Reposo."
    assert spanish.with_unit("15.800", "/mm³") == "15.800/mm³"
    assert spanish.with_unit("95", "%") == "95%"
    assert spanish.with_unit("0,9", "mg/dL") == "0,9 mg/dL"
    assert spanish.with_unit("negativo", None) == "negativo"


def test_format_vitals() -> None:
    vs = VitalSigns(
        taken_at=dt.datetime(2026, 1, 10, 15),
        systolic_mmhg=142,
        diastolic_mmhg=84,
        heart_rate_bpm=104,
        temperature_c=Decimal("38.6"),
        spo2_percent=88,
    )
    assert spanish.format_vitals(vs) == "PA 142/84 mmHg, FC 104 lpm, T° 38,6 °C, SatO2 88%"


def test_lab_phrase() -> None:
    lab = Lab(name="Creatinina", value="0,9", unit="mg/dL", taken_on=dt.date(2026, 1, 10))
    assert spanish.lab_phrase(lab) == "Creatinina 0,9 mg/dL"
    high = Lab(name="Leucocitos", value="15.800", unit="/mm³", taken_on=dt.date(2026, 1, 10), abnormal=True)
    assert spanish.lab_phrase(high) == "Leucocitos 15.800/mm³ (alterado)"
