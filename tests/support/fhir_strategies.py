"""Hypothesis strategies for the FHIR round trip: ``tests.support.strategies`` records, widened with what
they never draw (weight and per-kg doses, combination doses, Mexican and Spanish identifiers, lab
values that only travel as text)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from clinical.identifiers import luhn_check_digit
from clinical.record import HospitalStay
from tests.support.strategies import CONTEXT, hospital_stay_dicts

_EXTRA_LABS = [("Plaquetas", "/mm³", "1000"), ("Lactato", "mmol/L", "3,10"), ("Orina completa", "campo", "negativa"),
               ("Troponina", "ng/L", "< 5")]


def _nss(body: int) -> str:
    digits = f"{body:010d}"
    return digits + luhn_check_digit(digits)


@st.composite
def wide_stay_dicts(draw: Any) -> dict[str, Any]:
    record = draw(hospital_stay_dicts())
    if draw(st.booleans()):
        record["patient"]["weight_kg"] = draw(st.sampled_from(["3.25", "16.5", "70", "82.125"]))
        meds = record["inpatient_medications"]
        meds.append({"name": "Ampicilina", "dose": "50", "unit": "mg/kg", "route": "intravenosa",
                     "frequency": "cada 6 horas", "duration": "3 días"})
    if draw(st.booleans()) and record["discharge_medications"] is not None and record["discharge"]["condition"] != "fallecido":
        record["discharge_medications"].append({"name": "Amoxicilina/ácido clavulánico", "dose": "875/125",
                                                "unit": "mg", "route": "oral", "frequency": "cada 12 horas"})
    if draw(st.booleans()):
        record["patient"]["identifiers"].append({"type": "NSS", "value": _nss(draw(st.integers(0, 10**10 - 1)))})
    if draw(st.booleans()):
        record["patient"]["identifiers"].append({"type": "PASAPORTE", "value": "P1234567"})
    if draw(st.booleans()) and record["labs"]:
        name, unit, value = draw(st.sampled_from(_EXTRA_LABS))
        record["labs"].append({"name": name, "unit": unit, "value": value,
                               "taken_on": record["labs"][0]["taken_on"], "abnormal": draw(st.booleans())})
    return record


def wide_hospital_stays() -> st.SearchStrategy[HospitalStay]:
    return wide_stay_dicts().map(lambda data: HospitalStay.model_validate(data, context=CONTEXT))
