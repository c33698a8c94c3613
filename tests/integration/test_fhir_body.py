"""The JSON-or-FHIR request body dependency (backend/api/fhir_body.py), on a small app of its own:
a FHIR Bundle becomes the same EpicrisisIn as the JSON record, JSON bodies keep FastAPI's own
behaviour, and the key is checked before the body is read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from backend.api.errors import install_error_handlers
from backend.api.fhir_body import EpicrisisBody, document_request_bodies
from backend.api.middleware import RequestContextMiddleware
from backend.api.schemas import EpicrisisIn
from backend.db.session import make_engine, make_sessionmaker
from clinical.contract import example_records

ROOT = Path(__file__).resolve().parents[2]
FHIR = "application/fhir+json"


@pytest.fixture
def body_client(settings):
    app = FastAPI()
    engine = make_engine(settings.resolved_database_url)
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.settings = settings
    install_error_handlers(app)

    @app.post("/echo")
    async def echo(body: EpicrisisBody) -> dict:
        return body.model_dump(mode="json")

    @app.post("/plain")
    async def plain(body: EpicrisisIn) -> dict:  # FastAPI's own body parameter, to compare with
        return body.model_dump(mode="json")

    app.add_middleware(RequestContextMiddleware)
    document_request_bodies(app)
    with TestClient(app) as client:
        yield client, app
    engine.dispose()


def example(name: str) -> bytes:
    return (ROOT / "clinical" / "examples" / "fhir" / f"{name}.json").read_bytes()


@pytest.mark.parametrize("name", sorted(example_records()))
def test_a_fhir_bundle_is_the_same_request_as_its_json_record(body_client, auth, name: str) -> None:
    client, _ = body_client
    from_json = client.post("/echo", json={"record": example_records()[name]}, headers=auth)
    from_fhir = client.post("/echo", content=example(name), headers={**auth, "Content-Type": FHIR})
    assert from_json.status_code == from_fhir.status_code == 200, from_fhir.text
    assert from_fhir.json() == from_json.json()


def test_engine_comes_from_the_query_for_a_bundle(body_client, auth) -> None:
    client, _ = body_client
    response = client.post("/echo", content=example("minimo"), params={"engine": "template"},
                           headers={**auth, "Content-Type": f"{FHIR}; charset=utf-8"})
    assert response.json()["engine"] == "template"


@pytest.mark.parametrize("body, headers", [
    (b"{not json", {"Content-Type": "application/json"}),
    (b"[]", {"Content-Type": "application/json"}),
    (b'{"record": {}}', {"Content-Type": "application/json"}),
    (b'{"record": {}, "extra": 1}', {"Content-Type": "application/vnd.alta+json"}),
    (b'{"record": {}}', {"Content-Type": "text/plain"}),
    (b'{"record": {}}', {}),
    (b"", {"Content-Type": "application/json"}),
    (b"\xff\xfe\xfa", {"Content-Type": "application/json"}),
])
def test_json_bodies_get_what_fastapi_answers(body_client, auth, body: bytes, headers: dict) -> None:
    client, _ = body_client
    ours = client.post("/echo", content=body, headers={**auth, **headers})
    fastapi = client.post("/plain", content=body, headers={**auth, **headers})
    assert ours.status_code == fastapi.status_code
    assert ours.json() == fastapi.json()


def test_a_bundle_the_mapping_refuses_is_a_422_naming_elements_without_values(body_client, auth) -> None:
    client, _ = body_client
    bundle = json.loads(example("neumonia_chile"))
    bundle["entry"][2]["resource"]["code"]["coding"] = [{"system": "http://snomed.info/sct", "code": "233604007"}]
    bundle["entry"][0]["resource"]["birthDate"] = "María Elena"
    response = client.post("/echo", content=json.dumps(bundle), headers={**auth, "Content-Type": FHIR})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert [e["field"] for e in detail] == ["Bundle.entry[0].resource.birthDate"]
    assert "María" not in response.text
    bundle["entry"][0]["resource"]["birthDate"] = "1953-04-18"
    response = client.post("/echo", content=json.dumps(bundle), headers={**auth, "Content-Type": FHIR})
    assert [e["field"] for e in response.json()["detail"]] == ["Bundle.entry[2].resource.code"]
    assert all(set(e) == {"loc", "field", "msg", "type"} for e in response.json()["detail"])
    response = client.post("/echo", content=b"{not json", headers={**auth, "Content-Type": FHIR})
    assert response.status_code == 422 and response.json()["detail"][0]["field"] == "Bundle"


def test_the_key_is_checked_before_the_body_is_read(body_client, make_key) -> None:
    client, _ = body_client
    assert client.post("/echo", content=b"{not json", headers={"Content-Type": FHIR}).status_code == 401
    reader = make_key("reader", ("read",))
    assert client.post("/echo", content=b"{not json", headers={**reader, "Content-Type": FHIR}).status_code == 403


def test_openapi_lists_both_media_types(body_client) -> None:
    _, app = body_client
    operation = app.openapi()["paths"]["/echo"]["post"]
    content = operation["requestBody"]["content"]
    assert content["application/json"]["schema"] == {"$ref": "#/components/schemas/EpicrisisIn"}
    assert content[FHIR]["schema"] == {"$ref": "#/components/schemas/FhirBundle"}
    assert "422" in operation["responses"]
    assert "HospitalStay" in app.openapi()["components"]["schemas"]
    assert any(p["name"] == "engine" for p in operation["parameters"])
    bundle = app.openapi()["components"]["schemas"]["FhirBundle"]
    assert bundle["examples"][0]["resourceType"] == "Bundle"
