"""The audit trail: every document created, read (alone, by version, in a list), edited and signed
is recorded with the key that did it and the request it came in, and no patient data."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from backend.db.models import AuditEvent


def _trail(sessions) -> list[AuditEvent]:
    with sessions() as session:
        return list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))


def test_every_access_to_a_document_is_recorded(client: TestClient, make_key, record, sessions, doctor) -> None:
    writer, reader, signer = make_key("ehr-writer", ("generate",)), make_key("ehr-reader", ("read",)), \
        make_key("ehr-signer", ("sign",))
    created = client.post("/api/v1/epicrisis", json={"record": record}, headers=writer)
    doc = created.json()
    url = f"/api/v1/documents/{doc['id']}"
    calls = [
        ("ehr-writer", "create", None, created),
        ("ehr-reader", "read", None, client.get(url, headers=reader)),
        ("ehr-writer", "edit", "version 2",
         client.put(url, json={"text": doc["text"] + "\nRevisado.", "base_version": 1, "author": "Dra. Pérez"},
                    headers=writer)),
        ("ehr-reader", "read", "version 1", client.get(f"{url}/versions/1", headers=reader)),
        ("ehr-signer", "sign", "version 2, signer user 1 via key ehr-signer",
         client.post(f"{url}/sign", json={"version": 2, **doctor}, headers=signer)),
    ]
    assert [c[3].status_code for c in calls] == [201, 200, 200, 200, 200]
    events = [e for e in _trail(sessions) if e.document_id == doc["id"]]
    assert [(e.actor, e.action, e.detail) for e in events] == [(actor, action, detail) for actor, action, detail, _ in calls]
    for event, (*_, response) in zip(events, calls, strict=True):
        assert event.request_id == response.headers["x-request-id"]  # each event points at its request


def test_a_list_records_the_search_and_each_document_it_disclosed(client: TestClient, auth, record, sessions) -> None:
    first = client.post("/api/v1/epicrisis", json={"record": record}, headers=auth).json()
    record["patient"]["identifiers"] = [{"type": "RUT", "value": "12.345.678-5"}]
    second = client.post("/api/v1/epicrisis", json={"record": record}, headers=auth).json()

    by_patient = client.get("/api/v1/documents", params={"patient": "7.654.321-6"}, headers=auth)
    assert [d["id"] for d in by_patient.json()["items"]] == [first["id"]]
    everything = client.get("/api/v1/documents", headers=auth)
    assert everything.json()["total"] == 2

    trail = _trail(sessions)
    searches = [e for e in trail if e.action == "search"]
    assert [(e.detail, e.document_id) for e in searches] == [("1 of 1 results", None), ("2 of 2 results", None)]
    assert searches[0].request_id == by_patient.headers["x-request-id"]
    listed = [(e.document_id, e.request_id) for e in trail if e.action == "list"]
    assert listed == [(first["id"], by_patient.headers["x-request-id"]),
                      (second["id"], everything.headers["x-request-id"]),
                      (first["id"], everything.headers["x-request-id"])]  # newest first, as listed
    page = client.get("/api/v1/documents", params={"limit": 1, "offset": 1}, headers=auth)
    assert [e.document_id for e in _trail(sessions) if e.request_id == page.headers["x-request-id"]
            and e.action == "list"] == [first["id"]]  # only what the page showed


def test_refused_and_failed_requests_leave_no_access_event(client: TestClient, make_key, auth, record, sessions) -> None:
    doc = client.post("/api/v1/epicrisis", json={"record": record}, headers=auth).json()
    before = len(_trail(sessions))
    writer_only = make_key("writer-only", ("generate",))
    url = f"/api/v1/documents/{doc['id']}"
    assert client.get(url, headers=writer_only).status_code == 403
    assert client.get(url).status_code == 401
    assert client.get(f"{url}/versions/7", headers=auth).status_code == 404
    assert client.get("/api/v1/documents/not-an-id", headers=auth).status_code == 404
    assert client.put(url, json={"text": "x", "base_version": 5, "author": "Dr. X"}, headers=auth).status_code == 409
    assert len(_trail(sessions)) == before  # nothing was read, edited or signed


def test_the_trail_holds_no_patient_data(client: TestClient, auth, record, sessions, doctor) -> None:
    doc = client.post("/api/v1/epicrisis", json={"record": record}, headers=auth).json()
    url = f"/api/v1/documents/{doc['id']}"
    client.get(url, headers=auth)
    client.get("/api/v1/documents", params={"patient": "7.654.321-6"}, headers=auth)
    client.put(url, json={"text": doc["text"] + "\nFirma: Dra. Pérez", "base_version": 1, "author": "Dra. Pérez"},
               headers=auth)
    client.post(f"{url}/sign", json={"version": 2, **doctor, "acknowledge_findings": True},
                headers=auth)
    stored = " ".join(f"{e.actor} {e.action} {e.document_id} {e.request_id} {e.detail}" for e in _trail(sessions))
    for secret in ["María Elena", "Soto Pérez", "7.654.321", "7654321", "458812", "Neumonía"]:
        assert secret not in stored
