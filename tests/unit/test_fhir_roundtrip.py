"""Record -> FHIR R4 Bundle -> record is identity (property test), through JSON text as an EHR sends it."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings

from clinical.fhir import bundle_to_record, record_to_bundle
from clinical.record import HospitalStay
from tests.support.fhir_strategies import wide_hospital_stays
from tests.support.strategies import CONTEXT, hospital_stays


def _through_json(stay: HospitalStay, bundle_type: str = "transaction") -> HospitalStay:
    text = json.dumps(record_to_bundle(stay, bundle_type=bundle_type), ensure_ascii=False)
    return bundle_to_record(text, context=CONTEXT)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hospital_stays())
def test_round_trip_is_identity(stay: HospitalStay) -> None:
    assert _through_json(stay) == stay


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(wide_hospital_stays())
def test_round_trip_is_identity_for_weights_combinations_and_text_values(stay: HospitalStay) -> None:
    assert _through_json(stay, "collection") == stay
