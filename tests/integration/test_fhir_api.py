"""FHIR over the real app: a Bundle in (POST /api/v1/epicrisis and /stream), a document Bundle out
(GET /api/v1/documents/{id}/fhir), with scopes, audit and the OpenAPI description."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import select

from backend.db.models import AuditEvent

ROOT = Path(__file__).resolve().parents[2]
EPICRISIS = "/api/v1/epicrisis"
FHIR = "application/fhir+json"


def example_bytes(name: str = "neumonia_chile") -> bytes:
    return (ROOT / "clinical" / "examples" / "fhir" / f"{name}.json").read_bytes()


def post_fhir(client: TestClient, auth: dict, body: bytes, path: str = EPICRISIS, **params: str):
    return client.post(path, content=body, params=params, headers={**auth, "Content-Type": FHIR})


def create(client: TestClient, auth: dict, record: dict) -> dict:
    response = client.post(EPICRISIS, json={"record": record}, headers=auth)
    assert response.status_code == 201, response.text
    return response.json()


def fhir_document(client: TestClient, auth: dict, doc_id: str, **params: str) -> dict:
    response = client.get(f"/api/v1/documents/{doc_id}/fhir", params=params, headers=auth)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(FHIR)
    bundle = response.json()
    Bundle.model_validate(bundle)
    return bundle


def resources(bundle: dict, kind: str) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


# --- out -----------------------------------------------------------------------------------------

def test_a_draft_reads_as_a_preliminary_fhir_document(client, auth, record, sessions) -> None:
    doc = create(client, auth, record)
    bundle = fhir_document(client, auth, doc["id"], utc_offset="-03:00")
    assert bundle["type"] == "document"
    composition = bundle["entry"][0]["resource"]
    assert composition["resourceType"] == "Composition" and composition["status"] == "preliminary"
    assert composition["type"]["coding"][0]["code"] == "18842-5" and "attester" not in composition
    assert composition["identifier"]["value"] == f"urn:uuid:{doc['id']}"
    encounter = resources(bundle, "Encounter")[0]
    assert encounter["period"]["start"] == "2026-01-10T14:35:00-03:00"
    provenance = resources(bundle, "Provenance")[0]
    assert provenance["activity"]["coding"][0]["code"] == "template-drafted"
    assert any("template" in a["who"]["display"] for a in provenance["agent"])
    with sessions() as session:
        actions = [e.action for e in session.scalars(
            select(AuditEvent).where(AuditEvent.document_id == doc["id"]).order_by(AuditEvent.id))]
    assert actions == ["create", "read"]


def test_a_signed_document_is_final_with_attester_provenance_and_the_eu_type(client, auth, record, doctor) -> None:
    doc = create(client, auth, record)
    edited = client.put(f"/api/v1/documents/{doc['id']}", headers=auth,
                        json={"text": doc["text"] + "\nNota: control en 2 semanas.", "base_version": 1,
                              "author": "Dra. Soto"})
    assert edited.status_code == 200, edited.text
    signed = client.post(f"/api/v1/documents/{doc['id']}/sign", headers=auth,
                         json={"version": 2, **doctor, "acknowledge_findings": True})
    assert signed.status_code == 200, signed.text
    bundle = fhir_document(client, auth, doc["id"], type="34105-7")
    composition = bundle["entry"][0]["resource"]
    assert composition["status"] == "final" and composition["type"]["coding"][0]["code"] == "34105-7"
    assert composition["attester"][0]["party"]["display"] == "Dra. Pérez"
    provenance = resources(bundle, "Provenance")[0]
    assert provenance["activity"]["coding"][0]["code"] == "clinician-edited"
    agents = {(a["type"]["coding"][0]["code"], a["who"]["display"]) for a in provenance["agent"]}
    assert ("attester", "Dra. Pérez") in agents and ("enterer", "API key ehr") in agents
    assert resources(bundle, "DocumentReference")[0]["docStatus"] == "final"


def test_the_fhir_document_needs_the_read_scope_and_a_known_id(client, make_key, auth, record) -> None:
    doc = create(client, auth, record)
    writer = make_key("writer", ("generate",))
    assert client.get(f"/api/v1/documents/{doc['id']}/fhir", headers=writer).status_code == 403
    assert client.get(f"/api/v1/documents/{doc['id']}/fhir").status_code == 401
    assert client.get("/api/v1/documents/nope/fhir", headers=auth).status_code == 404
    assert client.get(f"/api/v1/documents/{doc['id']}/fhir", params={"type": "11490-0"},
                      headers=auth).status_code == 422


def test_openapi_describes_the_fhir_route() -> None:
    from backend.app import create_app
    from backend.core.config import Settings

    schema = create_app(Settings(environment="test", engines=["template"])).openapi()
    get = schema["paths"]["/api/v1/documents/{document_id}/fhir"]["get"]
    assert FHIR in get["responses"]["200"]["content"]
    assert {"401", "403", "404"} <= set(get["responses"])


# --- in ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["neumonia_chile", "colecistitis_mexico"])
def test_a_fhir_bundle_gives_the_same_stored_draft_as_its_json_record(client, auth, name) -> None:
    record = json.loads((ROOT / "clinical" / "examples" / f"{name}.json").read_text(encoding="utf-8"))
    from_json = create(client, auth, record)
    response = post_fhir(client, auth, example_bytes(name))
    assert response.status_code == 201, response.text
    from_fhir = response.json()
    assert response.headers["location"] == f"/api/v1/documents/{from_fhir['id']}"
    assert from_fhir["text"] == from_json["text"] and from_fhir["record"] == from_json["record"]
    assert from_fhir["provenance"]["engine"] == "template"


def test_a_fhir_bundle_streams_too(client, auth) -> None:
    with client.stream("POST", f"{EPICRISIS}/stream", content=example_bytes("minimo"),
                       headers={**auth, "Content-Type": FHIR}) as response:
        assert response.status_code == 200
        body = "".join(response.iter_text())
    assert "event: start" in body and "event: done" in body


def test_a_bundle_alta_cannot_read_is_a_422_naming_each_element(client, auth) -> None:
    synthea = (ROOT / "tests" / "fixtures" / "fhir" / "synthea_pneumonia.json").read_bytes()
    for path in (EPICRISIS, f"{EPICRISIS}/stream"):
        response = post_fhir(client, auth, synthea, path)
        assert response.status_code == 422
        fields = [e["field"] for e in response.json()["detail"]]
        assert "Bundle.entry[7].resource.code" in fields and len(fields) == 7
        assert "Brekke496" not in response.text and "999-65-3251" not in response.text


def test_a_bundle_needs_the_generate_scope_before_it_is_read(client, make_key) -> None:
    assert post_fhir(client, {}, b"{not json").status_code == 401
    assert post_fhir(client, make_key("reader", ("read",)), b"{not json").status_code == 403


def test_openapi_describes_both_request_bodies(client) -> None:
    schema = client.get("/openapi.json").json()
    for path in (EPICRISIS, f"{EPICRISIS}/stream"):
        content = schema["paths"][path]["post"]["requestBody"]["content"]
        assert set(content) == {"application/json", FHIR}
