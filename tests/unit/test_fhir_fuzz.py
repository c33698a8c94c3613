"""Any change to a valid Bundle gives a record or a FhirMappingError naming an element: never a crash."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clinical.fhir import FhirMappingError, bundle_to_record

ROOT = Path(__file__).resolve().parents[2]
BUNDLES = [json.loads((ROOT / "clinical" / "examples" / "fhir" / f"{n}.json").read_text(encoding="utf-8"))
           for n in ("neumonia_chile", "neumonia_pediatrica_chile")]
BUNDLES.append(json.loads((ROOT / "tests" / "fixtures" / "fhir" / "synthea_pneumonia.json").read_text(encoding="utf-8")))
CONTEXT = {"today": dt.date(2026, 11, 21)}


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


PATHS = [(b, p) for b, bundle in enumerate(BUNDLES) for p in _paths(bundle) if len(p) > 2]
JSON = st.recursive(st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False)
                    | st.text(max_size=12) | st.sampled_from(["2026-01-12", "2026-01-12T10:00:00Z", "1", "Bundle"]),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                    max_leaves=6)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(target=st.sampled_from(PATHS), value=JSON | st.just("__delete__"))
def test_one_changed_element_gives_a_record_or_named_problems(target, value) -> None:
    index, path = target
    bundle = copy.deepcopy(BUNDLES[index])
    node = bundle
    for key in path[:-1]:
        node = node[key]
    if value == "__delete__":
        del node[path[-1]]
    else:
        node[path[-1]] = value
    try:
        bundle_to_record(bundle, context=CONTEXT)
    except FhirMappingError as exc:
        assert exc.problems and all(p["loc"].startswith(("Bundle", "record")) for p in exc.problems)
        if isinstance(value, str) and len(value) > 3:
            assert all(value not in p["msg"] for p in exc.problems)


def _observation(bundle: dict, code: str) -> dict:
    return next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"
                and any(c.get("code") == code for c in e["resource"]["code"].get("coding", [])))


def test_out_of_range_numbers_are_named_not_crashed_on() -> None:
    for code in ("29463-7", "8310-5", "8867-4"):
        for value in (1e300, -1e300, 10**30):
            bundle = copy.deepcopy(BUNDLES[1])
            _observation(bundle, code)["valueQuantity"]["value"] = value
            try:
                bundle_to_record(bundle, context=CONTEXT)
            except FhirMappingError as exc:
                assert exc.problems[0]["loc"].startswith("Bundle.entry[")
            else:
                raise AssertionError(f"{code}={value} was accepted")
