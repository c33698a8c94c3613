"""Tests of date and dose extraction from Spanish clinical text."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinical.extract import base_unit, find_dates, find_doses, normalise_unit, parse_number

MONTH_NAMES = [
    "enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre",
    "octubre", "noviembre", "diciembre",
]


def _dates(text: str) -> list[tuple[int, int, int | None]]:
    return [(m.day, m.month, m.year) for m in find_dates(text, pivot_year=2026)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ingresa el 15 de enero de 2026.", (15, 1, 2026)),
        ("Ingresa el 15 de enero del 2026.", (15, 1, 2026)),
        ("Ingresa el 15 DE ENERO DE 2026.", (15, 1, 2026)),
        ("Ingresa el 05 de enero de 2026.", (5, 1, 2026)),
        ("Se suspende el 13 de enero.", (13, 1, None)),
        ("Desde el 1° de enero.", (1, 1, None)),
        ("Desde el 1º de marzo de 2026.", (1, 3, 2026)),
        ("Desde el 1ro de mayo.", (1, 5, None)),
        ("Control el 7 de setiembre de 2026.", (7, 9, 2026)),
        ("Control el 7 de septiembre de 2026.", (7, 9, 2026)),
        ("Alta 15/01/2026.", (15, 1, 2026)),
        ("Alta 15-01-2026.", (15, 1, 2026)),
        ("Alta 15.01.2026.", (15, 1, 2026)),
        ("Alta 15/01/26.", (15, 1, 2026)),
        ("Alta 5/1/2026", (5, 1, 2026)),
        ("Alta 2026-01-15.", (15, 1, 2026)),
        ("Toma 2026-01-15T08:00:00", (15, 1, 2026)),
        ("Alta 15-ene-2026.", (15, 1, 2026)),
        ("Nacida el 18/04/53", (18, 4, 1953)),
    ],
)
def test_every_supported_date_format(text: str, expected: tuple) -> None:
    assert _dates(text) == [expected]


def test_date_span_and_value() -> None:
    text = "Ingresa el 10 de enero de 2026 a las 14:35 y egresa el 15/01/2026."
    first, second = find_dates(text)
    assert text[first.start : first.end] == "10 de enero de 2026" == first.text
    assert first.date == dt.date(2026, 1, 10)
    assert text[second.start : second.end] == "15/01/2026"
    assert second.date == dt.date(2026, 1, 15)
    assert find_dates("el 13 de enero")[0].date is None


@pytest.mark.parametrize(
    "text",
    [
        "a las 14:35 horas",
        "Paciente de 72 años",
        "Reposo por 7 días, control en 2 semanas",
        "PA 142/84 mmHg",
        "1/2 comprimido cada 12 horas",
        "Leucocitos 15.800/mm³, RUT 7.654.321-6",
        "Fecha imposible: 31 de febrero de 2026 y 30/02/2026",
        "Diagnóstico J18.9, 3 de los 5 hemocultivos",
    ],
)
def test_no_false_dates(text: str) -> None:
    assert find_dates(text) == []


def test_only_plausible_years_are_read() -> None:
    # "1000" after a date is a dose, not the year 1000.
    assert _dates("15 de enero 1000 mg") == [(15, 1, None)]


def test_leap_day_without_year_is_a_date() -> None:
    assert _dates("el 29 de febrero") == [(29, 2, None)]
    assert _dates("el 29 de febrero de 2026") == []


@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2099, 12, 31)), st.booleans())
def test_written_dates_round_trip(date: dt.date, with_del: bool) -> None:
    written = f"{date.day} de {MONTH_NAMES[date.month - 1]} {'del' if with_del else 'de'} {date.year}"
    text = f"Control el {written}, a las 10:30."
    (mention,) = find_dates(text)
    assert mention.date == date
    assert (mention.start, mention.end) == (len("Control el "), len("Control el ") + len(written))


def _doses(text: str, **kwargs) -> list[tuple[Decimal, str]]:
    return [(d.value, d.unit) for d in find_doses(text, **kwargs)]


def test_decimal_comma_and_point() -> None:
    assert _doses("clonazepam 0,5 mg y 0.5 mg, 2,5 mg") == [
        (Decimal("0.5"), "mg"), (Decimal("0.5"), "mg"), (Decimal("2.5"), "mg"),
    ]


def test_thousands_separator() -> None:
    assert _doses("paracetamol 1.000 mg") == [(Decimal(1000), "mg")]
    assert _doses("heparina 10.000 UI") == [(Decimal(10000), "UI")]
    assert _doses("1.5 g y 0.500 mg") == [(Decimal("1.5"), "g"), (Decimal("0.5"), "mg")]
    assert parse_number("1.000,5") == Decimal("1000.5")


def test_units_are_normalised() -> None:
    text = "5 ml, 5 mL, 5 cc, 100 mcg, 100 µg, 100 ug, 4 UI, 4 ui, 4 U, 2 comprimidos, 1 tableta, 2 puffs, 2 inhalaciones, 20 mEq, 1 ampolla, 10 gotas, 1 cápsula, 1 sobre"
    assert [u for _, u in _doses(text)] == [
        "mL", "mL", "mL", "mcg", "mcg", "mcg", "UI", "UI", "UI", "comprimido", "comprimido",
        "puff", "puff", "mEq", "ampolla", "gota", "cápsula", "sobre",
    ]
    assert normalise_unit("Comprimidos") == normalise_unit("comprimido") == "comprimido"
    assert normalise_unit("mg/kg/d") == "mg/kg/día"
    assert normalise_unit("Parches") == "parche"
    assert normalise_unit("aplicación") == "aplicación"  # unknown units are kept as written
    assert base_unit("g/día") == "g" and base_unit("mcg/kg/min") == "mcg/kg"


def test_compound_dose_units() -> None:
    assert _doses("10 mg/kg, 0,1 mcg/kg/min, 2 g/día, 2 g/24 h, 100 ml/h") == [
        (Decimal(10), "mg/kg"), (Decimal("0.1"), "mcg/kg/min"), (Decimal(2), "g/día"),
        (Decimal(2), "g/día"), (Decimal(100), "mL/h"),
    ]


def test_lab_units_are_not_doses() -> None:
    text = (
        "creatinina 0,9 mg/dL, Hb 11 g/dL, PCR 186 mg/L, K 3,5 mEq/L, GPT 40 U/L, VFG 90 mL/min, "
        "7 u 8 días, dolor 8 sobre 10"
    )
    assert find_doses(text) == []
    assert _doses("creatinina 0,9 mg/dL", extra_units=["mg/dL"]) == [(Decimal("0.9"), "mg/dl")]
    assert _doses("7 u 8 días, 4 U", extra_units=["U", "mg"]) == [(Decimal(4), "UI")]
    assert _doses("1 parche diario", extra_units=["parche"]) == [(Decimal(1), "parche")]


def test_dose_spans() -> None:
    text = "Metformina 850 mg cada 12 horas, Losartán 50mg."
    doses = find_doses(text)
    assert [text[d.start : d.end] for d in doses] == ["850 mg", "50mg"]
    assert [d.text for d in doses] == ["850 mg", "50mg"]
    assert find_doses("a las 14:35, 72 años, 875/125 mg") == []


@given(st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("99999"), places=4),
       st.sampled_from(["mg", "g", "mcg", "UI", "mL", "mEq"]))
def test_writer_dose_format_round_trips(value: Decimal, unit: str) -> None:
    # The writer prints "0,5 mg": decimal comma, no thousands separator, no trailing zeros.
    digits = format(value.normalize(), "f").replace(".", ",")
    (dose,) = find_doses(f"Dosis: {digits} {unit} cada 8 horas")
    assert dose.value == value and dose.unit == unit
