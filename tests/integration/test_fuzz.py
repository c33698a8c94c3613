"""Nothing a client can send gets a 500: arbitrary JSON, and valid records with one value replaced."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.app import create_app
from backend.core.config import Settings
from backend.db import migrate
from backend.db.session import make_engine, make_sessionmaker
from backend.services import apikeys
from clinical.contract import example_records

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


@pytest.fixture(scope="module")
def fuzz_client(tmp_path_factory) -> Iterator[tuple[TestClient, dict]]:
    tmp = tmp_path_factory.mktemp("fuzz")
    s = Settings(environment="test", data_dir=tmp, engines=["template"])
    migrate.upgrade(s.resolved_database_url)
    engine = make_engine(s.resolved_database_url)
    with make_sessionmaker(engine)() as session:
        auth = {"Authorization": f"Bearer {apikeys.create_key(session, 'fuzz', ['admin'])}"}
    engine.dispose()
    with TestClient(create_app(s)) as client:
        yield client, auth


def _paths(value, prefix=()) -> Iterator[tuple]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield prefix + (k,)
            yield from _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield prefix + (i,)
            yield from _paths(v, prefix + (i,))


RECORD = example_records()["neumonia_chile"]
PATHS = list(_paths(RECORD))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=JSON)
def test_arbitrary_json_never_gets_a_500(fuzz_client, body) -> None:
    client, auth = fuzz_client
    for route in ("/api/v1/epicrisis", "/api/v1/epicrisis/stream"):
        assert client.post(route, json=body, headers=auth).status_code == 422
        assert client.post(route, json={"record": body}, headers=auth).status_code == 422


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(PATHS), value=JSON)
def test_a_record_with_one_value_replaced_gets_201_or_422(fuzz_client, path, value) -> None:
    client, auth = fuzz_client
    record = copy.deepcopy(RECORD)
    target = record
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    response = client.post("/api/v1/epicrisis", json={"record": record}, headers=auth)
    assert response.status_code in (201, 422), response.text
    if response.status_code == 422:
        assert all(e["field"] for e in response.json()["detail"])
    else:
        assert response.json()["checks"]["ok"], response.json()["checks"]


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e400", "-0", "1e-400"])
@pytest.mark.parametrize("field", ["dose", "temperature_c"])
def test_non_finite_numbers_in_raw_json_are_rejected(fuzz_client, token: str, field: str) -> None:
    import json

    client, auth = fuzz_client
    record = copy.deepcopy(RECORD)
    target = record["discharge_medications"][0] if field == "dose" else record["vital_signs"][0]
    target[field] = "__TOKEN__"
    raw = json.dumps({"record": record}).replace('"__TOKEN__"', token)
    response = client.post("/api/v1/epicrisis", content=raw, headers={**auth, "Content-Type": "application/json"})
    assert response.status_code == 422, response.text
