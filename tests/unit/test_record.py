"""The record's validation: what a clinician would reject is rejected, naming the field."""

from __future__ import annotations

import copy
import datetime as dt
import json

import pytest
from pydantic import ValidationError

from clinical.contract import example_records
from clinical.identifiers import check_identifier, curp_check_digit, rut_check_digit
from clinical.record import HospitalStay

TODAY = dt.date(2026, 11, 21)


@pytest.fixture
def raw() -> dict:
    return copy.deepcopy(example_records()["neumonia_chile"])


def validate(data: dict) -> HospitalStay:
    return HospitalStay.model_validate(data, context={"today": TODAY})


def errors_of(data: dict) -> list[dict]:
    with pytest.raises(ValidationError) as info:
        validate(data)
    return info.value.errors()


def test_examples_are_valid() -> None:
    for name, data in example_records().items():
        stay = validate(data)
        assert stay.principal_diagnosis.kind == "principal", name


def test_derived_facts(raw: dict) -> None:
    stay = validate(raw)
    assert stay.age_at_admission == 72  # born 1953-04-18, admitted 2026-01-10
    assert stay.length_of_stay_days == 5


@pytest.mark.parametrize(
    ("mutate", "field", "kind"),
    [
        (lambda r: r["discharge"].update(discharged_on="2026-01-09"), "discharge.discharged_on", "discharge_before_admission"),
        (lambda r: r["discharge"].update(discharged_on="2026-12-01"), "discharge.discharged_on", "date_in_future"),
        (lambda r: r["admission"].update(admitted_at="2027-01-01T00:00:00"), "admission.admitted_at", "date_in_future"),
        (lambda r: [d.update(kind="secundario") for d in r["diagnoses"]], "diagnoses", "principal_missing"),
        (lambda r: [d.update(kind="principal") for d in r["diagnoses"]], "diagnoses", "principal_repeated"),
        (lambda r: r["procedures"][1].update(performed_on="2026-02-01"), "procedures[1].performed_on", "outside_stay"),
        (lambda r: r["labs"][0].update(taken_on="2025-12-31"), "labs[0].taken_on", "outside_stay"),
        (lambda r: r["follow_ups"][0].update(date="2026-01-12"), "follow_ups[0].date", "follow_up_before_discharge"),
        (lambda r: r["patient"].update(age_years=40), "patient.age_years", "age_mismatch"),
        (lambda r: r["discharge"].update(condition="fallecido"), "discharge.condition", "deceased_with_plan"),
    ],
)
def test_cross_field_rules_name_the_field(raw: dict, mutate, field: str, kind: str) -> None:
    mutate(raw)
    (error,) = errors_of(raw)
    assert error["type"] == kind
    assert error["ctx"]["field"] == field
    assert error["msg"].startswith(field + ": ")


@pytest.mark.parametrize(
    ("path", "value", "loc_tail", "kind"),
    [
        (("discharge_medications", 0, "dose"), 0, ("discharge_medications", 0, "dose"), "greater_than"),
        (("discharge_medications", 0, "dose"), -5, ("discharge_medications", 0, "dose"), "greater_than"),
        (("discharge_medications", 0, "unit"), "", ("discharge_medications", 0, "unit"), "string_too_short"),
        (("diagnoses", 0, "code"), "neumonia", ("diagnoses", 0, "code"), "cie10_invalid"),
        (("diagnoses", 0, "code"), "J1", ("diagnoses", 0, "code"), "cie10_invalid"),
        (("patient", "identifiers", 0, "value"), "7.654.321-5", ("patient", "identifiers", 0), "identifier_invalid"),
        (("discharge_medications", 0, "route"), "por boca", ("discharge_medications", 0, "route"), "enum"),
        (("vital_signs", 0, "spo2_percent"), 120, ("vital_signs", 0, "spo2_percent"), "less_than_equal"),
    ],
)
def test_field_rules(raw: dict, path: tuple, value: object, loc_tail: tuple, kind: str) -> None:
    target = raw
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    (error,) = errors_of(raw)
    assert error["type"] == kind
    assert tuple(error["loc"]) == loc_tail


def test_unknown_fields_are_rejected(raw: dict) -> None:
    raw["patient"]["nombre"] = "typo of name"
    raw["diagnosticos"] = []
    errors = errors_of(raw)
    assert {tuple(e["loc"]) for e in errors} == {("patient", "nombre"), ("diagnosticos",)}
    assert all(e["type"] == "extra_forbidden" for e in errors)


def test_missing_age_and_birth_date(raw: dict) -> None:
    del raw["patient"]["birth_date"]
    (error,) = errors_of(raw)
    assert error["type"] == "age_missing" and tuple(error["loc"]) == ("patient",)


def test_messages_do_not_repeat_the_rejected_value(raw: dict) -> None:
    raw["patient"]["identifiers"][0]["value"] = "7.654.321-5"
    (error,) = errors_of(raw)
    assert "7.654.321" not in error["msg"]


def test_cie10_is_normalised(raw: dict) -> None:
    raw["diagnoses"][0]["code"] = " j189 "
    assert validate(raw).diagnoses[0].code == "J18.9"
    raw["diagnoses"][0]["code"] = "S72001A"
    assert validate(raw).diagnoses[0].code == "S72.001A"


def test_identifier_check_digits() -> None:
    assert rut_check_digit("7654321") == "6"
    assert rut_check_digit("12345678") == "5"
    assert check_identifier("RUT", "12.345.678-5") is None
    assert check_identifier("RUT", "12345678-K") is not None
    assert curp_check_digit("HEGJ700215HJCRNN0") == "8"
    assert check_identifier("CURP", "HEGJ700215HJCRNN09") is not None
    assert check_identifier("NSS", "43987001526") is None
    assert check_identifier("NSS", "43987001527") is not None
    assert check_identifier("DNI", "12345678Z") is None
    assert check_identifier("DNI", "12345678A") is not None
    assert check_identifier("NIE", "X1234567L") is None
    assert check_identifier("NHC", "anything") is None


def test_json_round_trip_is_lossless(raw: dict) -> None:
    stay = validate(raw)
    again = HospitalStay.model_validate_json(stay.model_dump_json(), context={"today": TODAY})
    assert again == stay
    assert json.loads(stay.model_dump_json())["discharge_medications"][0]["name"] == "Levofloxacino"
