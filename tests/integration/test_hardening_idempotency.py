"""Idempotency-Key on POST /api/v1/epicrisis and its stream (issue 20): a retry never writes a second
document, in process and across a ``kill -9`` of a live server between commit and answer."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import func, select, update

from backend.db.models import Document, IdempotencyKey
from tests.support import LiveServer

EPICRISIS = "/api/v1/epicrisis"


def documents(sessions) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(Document))


def test_the_same_key_and_body_answer_the_same_document(client, auth, record, sessions):
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = client.post(EPICRISIS, json={"record": record}, headers={**auth, **key})
    assert first.status_code == 201 and "idempotent-replayed" not in first.headers
    again = client.post(EPICRISIS, json={"record": record}, headers={**auth, **key})
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"] and again.json()["text"] == first.json()["text"]
    assert again.headers["location"] == first.headers["location"]
    assert documents(sessions) == 1
    # without a key, or with another key, a new document every time
    assert client.post(EPICRISIS, json={"record": record}, headers=auth).status_code == 201
    assert client.post(EPICRISIS, json={"record": record}, headers={**auth, "Idempotency-Key": "k2"}).status_code == 201
    assert documents(sessions) == 3


def test_the_same_key_with_another_body_is_a_422_naming_the_header(client, auth, record, sessions):
    key = {"Idempotency-Key": "retry-1"}
    assert client.post(EPICRISIS, json={"record": record}, headers={**auth, **key}).status_code == 201
    record["patient"]["name"] = "Otra Persona Distinta"
    response = client.post(EPICRISIS, json={"record": record}, headers={**auth, **key})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
    assert "retry-1" not in response.text and "Otra Persona" not in response.text
    assert documents(sessions) == 1


def test_keys_belong_to_their_api_key(client, make_key, record, sessions):
    one, two = make_key("ehr-1"), make_key("ehr-2")
    key = {"Idempotency-Key": "shared"}
    a = client.post(EPICRISIS, json={"record": record}, headers={**one, **key})
    b = client.post(EPICRISIS, json={"record": record}, headers={**two, **key})
    assert (a.status_code, b.status_code) == (201, 201) and a.json()["id"] != b.json()["id"]


def test_an_expired_key_is_forgotten(client, auth, record, sessions):
    key = {"Idempotency-Key": "old"}
    first = client.post(EPICRISIS, json={"record": record}, headers={**auth, **key}).json()
    with sessions() as session:
        session.execute(update(IdempotencyKey).values(expires_at=dt.datetime(2000, 1, 1)))
        session.commit()
    again = client.post(EPICRISIS, json={"record": record}, headers={**auth, **key})
    assert again.status_code == 201 and again.json()["id"] != first["id"]
    with sessions() as session:  # the expired row was replaced by the new one
        assert session.scalar(select(func.count()).select_from(IdempotencyKey)) == 1


@pytest.mark.parametrize("bad", [b"", b"a" * 256, b"con espacio", "ñ".encode()])
def test_a_malformed_key_is_a_422(client, auth, record, bad):
    response = client.post(EPICRISIS, json={"record": record}, headers={**auth, "Idempotency-Key": bad})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]


def test_concurrent_requests_with_one_key_store_one_document(client, auth, record, sessions):
    key = {"Idempotency-Key": "twins"}
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _i: client.post(EPICRISIS, json={"record": record}, headers={**auth, **key}),
                                range(6)))
    assert sorted(a.status_code for a in answers).count(201) == 1
    assert {a.status_code for a in answers} <= {200, 201}
    assert len({a.json()["id"] for a in answers}) == 1
    assert documents(sessions) == 1


def test_the_stream_replays_the_document_as_its_done_event(client, auth, record, sessions):
    key = {"Idempotency-Key": "stream-1"}
    first = client.post(f"{EPICRISIS}/stream", json={"record": record}, headers={**auth, **key})
    done = [json.loads(b.split("data: ", 1)[1]) for b in first.text.split("\n\n") if b.startswith("event: done")]
    again = client.post(f"{EPICRISIS}/stream", json={"record": record}, headers={**auth, **key})
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    replayed = [json.loads(b.split("data: ", 1)[1]) for b in again.text.split("\n\n") if b.startswith("event: done")]
    assert replayed[0]["id"] == done[0]["id"]
    assert documents(sessions) == 1


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'alta.db'}"
    from tests.integration.conftest import _fresh_postgres

    return _fresh_postgres()


def test_a_retry_after_kill_9_yields_exactly_one_document_per_key(tmp_path, record, database_url):
    """Clients post with keys while the server is killed; every key is retried on the restarted
    server; each key ends with exactly one document (the ones committed before the kill, answered
    or not, are replayed). On SQLite, and on PostgreSQL under make test-postgres."""
    server = LiveServer(tmp_path, {"ALTA_ENGINES": "[\"template\"]", "ALTA_DATABASE_URL": database_url})
    server.cli("migrate")
    token = server.cli("create-key", "--name", "ehr", "--scopes", "generate", "read").stdout.strip().splitlines()[-1]
    headers = {"Authorization": f"Bearer {token}"}
    keys = [str(uuid.uuid4()) for _ in range(60)]
    server.start()
    try:
        answered: dict[str, str] = {}

        def post(key: str) -> None:
            try:
                r = httpx.post(f"{server.url}{EPICRISIS}", json={"record": record}, timeout=30,
                               headers={**headers, "Idempotency-Key": key})
                if r.status_code == 201:
                    answered[key] = r.json()["id"]
            except httpx.TransportError:
                pass  # killed before the answer: the client does not know whether it was stored

        with ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(post, k) for k in keys]
            import time
            deadline = time.monotonic() + 30
            while len(answered) < 15 and time.monotonic() < deadline:
                time.sleep(0.01)
            server.kill()
            for f in futures:
                f.result()
        assert 0 < len(answered) < len(keys)
        server.start()
        replayed = 0
        for key in keys:
            r = httpx.post(f"{server.url}{EPICRISIS}", json={"record": record}, timeout=30,
                           headers={**headers, "Idempotency-Key": key})
            assert r.status_code in (200, 201), r.text
            if key in answered:  # acknowledged before the kill: the same document again
                assert r.status_code == 200 and r.json()["id"] == answered[key]
            replayed += r.status_code == 200
        listed = httpx.get(f"{server.url}/api/v1/documents?limit=200", headers=headers).json()
        assert listed["total"] == len(keys)  # exactly one document per key, none lost, none twice
        assert replayed >= len(answered)
    finally:
        server.stop()
