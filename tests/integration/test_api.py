"""The API in process (real ASGI app, real SQLite file): the document lifecycle and its errors."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from backend.db.models import AuditEvent, Generation
from backend.engines.base import EngineBusy, EngineHealth
from backend.engines.registry import EngineRegistry
from backend.engines.template import TemplateEngine

EPICRISIS = "/api/v1/epicrisis"


def create(client: TestClient, auth: dict, record: dict) -> dict:
    response = client.post(EPICRISIS, json={"record": record}, headers=auth)
    assert response.status_code == 201, response.text
    return response.json()


def test_a_client_request_id_is_kept_only_when_it_is_a_uuid(client, auth, record, sessions) -> None:
    # An EHR may send its own id; anything but a UUID (here a RUT) could carry PHI into logs and audit.
    rut = "12.345.678-5"
    response = client.post(EPICRISIS, json={"record": record}, headers={**auth, "X-Request-ID": rut})
    assert response.status_code == 201 and response.headers["x-request-id"] != rut
    with sessions() as session:
        assert session.scalar(select(Generation).where(Generation.request_id == rut)) is None
    ehr_id = "3F2504E0-4F89-11D3-9A0C-0305E82C3301"
    response = client.get("/healthz", headers={"X-Request-ID": ehr_id})
    assert response.headers["x-request-id"] == ehr_id.lower()


def test_create_stores_a_complete_draft_with_provenance(client, auth, record, sessions) -> None:
    response = client.post(EPICRISIS, json={"record": record}, headers=auth)
    assert response.status_code == 201
    doc = response.json()
    assert response.headers["location"] == f"/api/v1/documents/{doc['id']}"
    assert response.headers["x-alta-engine"] == "template"
    assert response.headers["x-request-id"]
    assert doc["status"] == "draft" and doc["version"] == 1
    for item in record["diagnoses"] + record["procedures"]:
        assert item["description"] in doc["text"]
    for med in record["discharge_medications"]:
        assert med["name"] in doc["text"]
    assert doc["checks"]["ok"] is True and doc["checks"]["findings"] == [] and doc["checks"]["reviewed"] is True
    assert doc["checks"]["attributed_share"] == 1.0  # every fact span of a template draft has its source
    assert {"field": "patient.name", "kind": "identity", "traced": True} | {
        k: v for k, v in doc["checks"]["facts"][0].items() if k in ("start", "end")} in doc["checks"]["facts"]
    prov = doc["provenance"]
    assert prov["engine"] == "template" and prov["model"] == "alta-epicrisis-template"
    assert len(prov["model_version"]) == 12 and prov["latency_ms"] >= 0 and prov["fallbacks"] == []
    with sessions() as session:
        gen = session.scalar(select(Generation).where(Generation.document_id == doc["id"]))
        assert gen is not None and gen.engine == "template" and gen.checks_ok
        assert gen.request_id == response.headers["x-request-id"]


def test_read_edit_sign_lifecycle(client, auth, record, sessions, doctor) -> None:
    doc = create(client, auth, record)
    url = f"/api/v1/documents/{doc['id']}"

    read = client.get(url, headers=auth).json()
    assert read["text"] == doc["text"] and read["record"]["patient"]["name"] == record["patient"]["name"]

    edited_text = doc["text"].replace("EVOLUCIÓN", "EVOLUCIÓN CLÍNICA")
    edit = client.put(url, json={"text": edited_text, "base_version": 1, "author": "Dra. Pérez"}, headers=auth)
    assert edit.status_code == 200, edit.text
    assert edit.json()["version"] == 2 and edit.json()["text"] == edited_text
    assert [v["source"] for v in edit.json()["versions"]] == ["engine", "clinician"]

    stale = client.put(url, json={"text": "otra cosa", "base_version": 1, "author": "Dr. Soto"}, headers=auth)
    assert stale.status_code == 409 and stale.json()["code"] == "version_conflict"
    assert client.get(url, headers=auth).json()["text"] == edited_text  # the stale edit lost nothing

    v1 = client.get(f"{url}/versions/1", headers=auth)
    assert v1.status_code == 200 and v1.json()["text"] == doc["text"]
    assert client.get(f"{url}/versions/9", headers=auth).status_code == 404

    assert client.post(f"{url}/sign", json={"version": 1, **doctor}, headers=auth).status_code == 409
    signed = client.post(f"{url}/sign", json={"version": 2, **doctor}, headers=auth)
    assert signed.status_code == 200 and signed.json()["status"] == "signed"
    assert signed.json()["signed_by"] == "Dra. Pérez" and signed.json()["signed_at"]

    locked = client.put(url, json={"text": "x", "base_version": 2, "author": "Dra. Pérez"}, headers=auth)
    assert locked.status_code == 409 and locked.json()["code"] == "document_signed"
    again = client.post(f"{url}/sign", json={"version": 2, **doctor}, headers=auth)
    assert again.status_code == 409

    with sessions() as session:
        actions = session.scalars(select(AuditEvent.action).where(AuditEvent.document_id == doc["id"])
                                  .order_by(AuditEvent.id)).all()
    assert actions == ["create", "read", "edit", "read", "read", "sign"]  # version 9 does not exist: no read


def test_edit_checks_the_new_text(client, auth, record) -> None:
    doc = create(client, auth, record)
    text = doc["text"].replace("Metformina", "Warfarina")
    out = client.put(f"/api/v1/documents/{doc['id']}", json={"text": text, "base_version": 1, "author": "Dr. X"},
                     headers=auth).json()
    codes = {f["code"] for f in out["checks"]["findings"]}
    assert not out["checks"]["ok"]
    # the line now prescribes a drug the record lacks, and the record's metformina has no line
    assert {"missing_discharge_medication", "unknown_medication"} <= codes
    assert all(f["message"] and f["kind"] == "medication" for f in out["checks"]["findings"])


def test_list_by_patient_identifier(client, auth, record) -> None:
    first = create(client, auth, record)
    other = json.loads(json.dumps(record))
    other["patient"]["identifiers"] = [{"type": "RUT", "value": "12.345.678-5"}]
    create(client, auth, other)
    found = client.get("/api/v1/documents", params={"patient": "7654321-6"}, headers=auth).json()
    assert [d["id"] for d in found["items"]] == [first["id"]] and found["total"] == 1
    assert found["items"][0]["principal_diagnosis"] == "Neumonía adquirida en la comunidad (J18.9)"
    by_nhc = client.get("/api/v1/documents", params={"patient": "458812"}, headers=auth).json()
    assert [d["id"] for d in by_nhc["items"]] == [first["id"]]
    assert client.get("/api/v1/documents", params={"patient": "1-9"}, headers=auth).json()["total"] == 0
    page = client.get("/api/v1/documents", params={"limit": 1, "offset": 1}, headers=auth).json()
    assert len(page["items"]) == 1 and page["total"] == 2


def test_authentication_and_scopes(client, make_key, record, sessions, doctor) -> None:
    assert client.post(EPICRISIS, json={"record": record}).status_code == 401
    bad = client.post(EPICRISIS, json={"record": record}, headers={"Authorization": "Bearer alta_nope_nope"})
    assert bad.status_code == 401 and bad.headers["www-authenticate"] == "Bearer"
    reader = make_key("reader", ("read",))
    denied = client.post(EPICRISIS, json={"record": record}, headers=reader)
    assert denied.status_code == 403 and "'generate' scope" in denied.json()["detail"]
    writer = make_key("writer", ("generate",))
    doc = client.post(EPICRISIS, json={"record": record}, headers=writer).json()
    x_api_key = {"X-API-Key": reader["Authorization"].removeprefix("Bearer ")}
    assert client.get(f"/api/v1/documents/{doc['id']}", headers=x_api_key).status_code == 200
    sign = client.post(f"/api/v1/documents/{doc['id']}/sign", json={"version": 1, **doctor}, headers=writer)
    assert sign.status_code == 403

    from backend.services.apikeys import revoke_key
    with sessions() as session:
        assert revoke_key(session, "reader")
    assert client.get(f"/api/v1/documents/{doc['id']}", headers=reader).status_code == 401


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda r: r["diagnoses"][1].update(code="diabetes"), "record.diagnoses.1.code"),
        (lambda r: r["discharge"].update(discharged_on="2026-01-01"), "record.discharge.discharged_on"),
        (lambda r: r["discharge_medications"][2].update(dose=0), "record.discharge_medications.2.dose"),
        (lambda r: r["procedures"][0].update(performed_on="2025-01-01"), "record.procedures.0.performed_on"),
        (lambda r: r.update(diagnosticos=[]), "record"),  # an unknown key: its holder, never the key (issue 20)
        (lambda r: r["patient"].pop("sex"), "record.patient.sex"),
    ],
)
def test_bad_records_get_422_naming_the_field(client, auth, record, mutate, field) -> None:
    mutate(record)
    response = client.post(EPICRISIS, json={"record": record}, headers=auth)
    assert response.status_code == 422
    errors = response.json()["detail"]
    assert field in [e["field"] for e in errors], errors
    assert all(e["loc"][0] == "body" for e in errors)


def test_errors_do_not_echo_patient_data(client, auth, record) -> None:
    record["patient"]["identifiers"][0]["value"] = "7.654.321-9"  # wrong check digit
    record["patient"]["nombre"] = record["patient"]["name"]
    response = client.post(EPICRISIS, json={"record": record}, headers=auth)
    assert response.status_code == 422
    body = response.text
    assert "7.654.321" not in body and "María Elena" not in body
    assert all(set(e) == {"loc", "field", "msg", "type"} for e in response.json()["detail"])


def test_malformed_bodies_and_unknown_ids(client, auth, settings) -> None:
    raw = client.post(EPICRISIS, content=b"{not json", headers={**auth, "Content-Type": "application/json"})
    assert raw.status_code == 422
    assert client.post(EPICRISIS, json=[], headers=auth).status_code == 422
    assert client.post(EPICRISIS, json={"record": {}}, headers=auth).status_code == 422
    huge = b'{"record": "' + b"x" * (settings.max_body_bytes + 1) + b'"}'
    too_big = client.post(EPICRISIS, content=huge, headers={**auth, "Content-Type": "application/json"})
    assert too_big.status_code == 413 and "ALTA_MAX_BODY_BYTES" in too_big.json()["detail"]
    assert client.get("/api/v1/documents/does-not-exist", headers=auth).status_code == 404
    assert client.get("/api/v1/documents/" + "x" * 37, headers=auth).status_code == 422
    assert client.put("/api/v1/documents/nope", json={"text": "a", "base_version": 1, "author": "x"},
                      headers=auth).status_code == 404
    assert client.get("/api/v1/documents", params={"limit": 0}, headers=auth).status_code == 422


def test_streamed_body_over_the_limit_gets_413(client, auth, settings) -> None:
    def chunks():
        for _ in range(settings.max_body_bytes // 10_000 + 2):
            yield b" " * 10_000

    response = client.post(EPICRISIS, content=chunks(), headers={**auth, "Content-Type": "application/json"})
    assert response.status_code == 413


def test_stream_sends_chunks_then_the_stored_document(client, auth, record) -> None:
    with client.stream("POST", f"{EPICRISIS}/stream", json={"record": record}, headers=auth) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        body = "".join(response.iter_text())
    events = []
    for block in body.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    kinds = [e for e, _ in events]
    assert kinds[0] == "start" and kinds[-1] == "done" and kinds.count("chunk") >= 5
    streamed = "".join(d["text"] for e, d in events if e == "chunk")
    done = events[-1][1]
    assert done["text"] == streamed and done["provenance"]["engine"] == "template"
    stored = client.get(f"/api/v1/documents/{done['id']}", headers=auth).json()
    assert stored["text"] == streamed
    plain = client.post(EPICRISIS, json={"record": record}, headers=auth).json()
    assert plain["text"] == streamed  # streaming writes the same document as the plain route


def test_stream_validates_before_streaming(client, auth, record) -> None:
    record["diagnoses"] = []
    response = client.post(f"{EPICRISIS}/stream", json={"record": record}, headers=auth)
    assert response.status_code == 422


def test_models_health_and_readiness(client, auth) -> None:
    models = client.get("/api/v1/models", headers=auth).json()
    assert models[0]["engine"] == "template" and models[0]["healthy"] and models[0]["position"] == 0
    assert client.get("/api/v1/models").status_code == 401
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["engines"] == ["template"]


def test_readyz_reports_an_unmigrated_database(tmp_path) -> None:
    from backend.app import create_app
    from backend.core.config import Settings

    settings = Settings(environment="test", data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'empty.db'}",
                        engines=["template"])
    with TestClient(create_app(settings)) as c:
        response = c.get("/readyz")
    assert response.status_code == 503 and "migrate" in response.json()["problems"][0]


def test_openapi_documents_the_routes_with_an_example(client) -> None:
    spec = client.get("/openapi.json").json()
    for path in ["/api/v1/epicrisis", "/api/v1/epicrisis/stream", "/api/v1/documents/{document_id}",
                 "/api/v1/documents/{document_id}/sign", "/api/v1/documents", "/api/v1/models", "/healthz", "/readyz"]:
        assert path in spec["paths"], path
    example = spec["components"]["schemas"]["EpicrisisIn"]["examples"][0]
    assert example["record"]["diagnoses"][0]["code"] == "J18.9"


def test_logs_carry_no_patient_data(client, auth, record, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    doc = create(client, auth, record)
    client.get("/api/v1/documents", params={"patient": "7.654.321-6"}, headers=auth)
    client.get(f"/api/v1/documents/{doc['id']}", headers=auth)
    record["diagnoses"][0]["code"] = "bad"
    client.post(EPICRISIS, json={"record": record}, headers=auth)
    # httpx's own log line is the test client's side of the request, not the server's.
    logged = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx"))
    assert "request_id=" in logged  # the access log ran
    for secret in ["María Elena", "Soto Pérez", "7.654.321", "7654321", "458812", "Neumonía"]:
        assert secret not in logged


def test_concurrent_edits_of_one_version_keep_exactly_one(client, auth, record, doctor) -> None:
    from concurrent.futures import ThreadPoolExecutor

    doc = create(client, auth, record)
    url = f"/api/v1/documents/{doc['id']}"

    def edit(i: int) -> int:
        body = {"text": f"{doc['text']}\nEdición {i}", "base_version": 1, "author": f"Dr. {i}"}
        return client.put(url, json=body, headers=auth).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(edit, range(8)))
    assert sorted(statuses) == [200] + [409] * 7
    final = client.get(url, headers=auth).json()
    assert final["version"] == 2 and [v["version"] for v in final["versions"]] == [1, 2]

    def sign(i: int) -> int:
        # the appended "Edición N" lines are the clinician's: findings, if any, are acknowledged
        return client.post(f"{url}/sign", json={"version": 2, "acknowledge_findings": True, **doctor},
                           headers=auth).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(sign, range(8)))
    assert sorted(statuses) == [200] + [409] * 7


def test_signing_a_flagged_text_needs_acknowledgement(client, auth, record, sessions, doctor) -> None:
    doc = create(client, auth, record)
    url = f"/api/v1/documents/{doc['id']}"
    flagged = doc["text"].replace("Metformina 850 mg", "Metformina 1000 mg")
    assert client.put(url, json={"text": flagged, "base_version": 1, "author": "Dr. X"}, headers=auth).status_code == 200

    refused = client.post(f"{url}/sign", json={"version": 2, **doctor}, headers=auth)
    assert refused.status_code == 409 and refused.json()["code"] == "unresolved_findings"
    assert "acknowledge_findings" in refused.json()["detail"]
    assert client.get(url, headers=auth).json()["status"] == "draft"

    signed = client.post(f"{url}/sign", json={"version": 2, **doctor, "acknowledge_findings": True},
                         headers=auth)
    assert signed.status_code == 200 and signed.json()["status"] == "signed"
    assert [(f["code"], f["field"]) for f in signed.json()["checks"]["findings"]] == [
        ("wrong_dose", "discharge_medications[1].dose")]
    with sessions() as session:
        detail = session.scalar(select(AuditEvent.detail).where(AuditEvent.action == "sign"))
    assert detail == "version 2, signer user 1 via key ehr, 1 findings acknowledged"


class _FailingEngine(TemplateEngine):
    """A template engine that fails after ``after`` chunks (0: before the first)."""

    name = "flaky"

    def __init__(self, after: int) -> None:
        self.after = after

    async def stream_write(self, stay):
        sent = 0
        async for chunk in super().stream_write(stay):
            if sent == self.after:
                raise EngineBusy("all slots taken")
            sent += 1
            yield chunk


def _sse_events(body: str) -> list[tuple[str, dict]]:
    events = []
    for block in body.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_stream_falls_back_when_an_engine_fails_before_writing(client, auth, record) -> None:
    client.app.state.engines = EngineRegistry([_FailingEngine(after=0), TemplateEngine()])
    response = client.post(f"{EPICRISIS}/stream", json={"record": record}, headers=auth)
    events = _sse_events(response.text)
    assert [e for e, _ in events][:2] == ["fallback", "start"]
    assert events[0][1] == {"engine": "flaky", "reason": "all slots taken"}
    done = events[-1][1]
    assert events[-1][0] == "done" and done["provenance"]["engine"] == "template"
    assert done["provenance"]["fallbacks"] == [{"engine": "flaky", "reason": "busy: all slots taken"}]


def test_stream_that_breaks_mid_draft_ends_with_an_error_and_stores_nothing(client, auth, record) -> None:
    client.app.state.engines = EngineRegistry([_FailingEngine(after=2), TemplateEngine()])
    events = _sse_events(client.post(f"{EPICRISIS}/stream", json={"record": record}, headers=auth).text)
    assert [e for e, _ in events] == ["start", "chunk", "chunk", "error"]
    assert events[-1][1]["code"] == "stream_broken"
    assert client.get("/api/v1/documents", headers=auth).json()["total"] == 0


def test_no_healthy_engine_is_a_503_with_retry_after(client, auth, record) -> None:
    class Down(TemplateEngine):
        name = "down"

        async def health(self):
            return EngineHealth(False, "not loaded")

    client.app.state.engines = EngineRegistry([Down()])
    for route in (EPICRISIS, f"{EPICRISIS}/stream"):
        response = client.post(route, json={"record": record}, headers=auth)
        assert response.status_code == 503 and response.headers["retry-after"] == "5"
        assert "down: unhealthy: not loaded" in response.json()["detail"]
