"""What a client sends never gets a 500 or an echo (issue 20), in process.

Reproducers from the reliability test: a 64-bit offset, unknown JSON keys and path ids repeated in
errors, malformed JSON answered before the key is checked, 500s without the security headers, a
wrong ``Allow``, timestamps without a UTC offset.
"""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient

from backend.app import create_app
from backend.services import documents as docs_service

PHI = "RUT_7654321-6_Rivera"


def aware(value: str) -> bool:
    return dt.datetime.fromisoformat(value).utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize("param", ["offset", "limit"])
@pytest.mark.parametrize("value", ["9223372036854775808", "9223372036854775807", "-1", str(10**30)])
def test_a_huge_offset_or_limit_is_a_422_naming_the_field(client, auth, param, value):
    response = client.get(f"/api/v1/documents?{param}={value}", headers=auth)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["field"] == param
    assert client.get("/api/v1/documents", headers=auth).status_code == 200


def test_a_huge_version_is_a_422(client, auth, record):
    doc = client.post("/api/v1/epicrisis", json={"record": record}, headers=auth).json()
    response = client.get(f"/api/v1/documents/{doc['id']}/versions/9223372036854775808", headers=auth)
    assert response.status_code == 422 and response.json()["detail"][0]["field"] == "version"


def test_an_unknown_key_is_not_repeated(client, auth, record):
    body = {"record": {**record, PHI: "x"}, PHI: {"nested": "y"}}
    response = client.post("/api/v1/epicrisis", json=body, headers=auth)
    assert response.status_code == 422
    assert PHI not in response.text
    fields = {e["field"] for e in response.json()["detail"]}
    assert fields == {None, "record"}  # the objects that hold the unknown keys
    assert {e["type"] for e in response.json()["detail"]} == {"extra_forbidden"}


def test_an_unknown_key_is_not_repeated_on_v1_or_translations(client, auth):
    v1 = client.post("/v1/chat/completions", headers=auth,
                     json={"model": "epicrisis", "messages": [{"role": "user", "content": "x", PHI: 1}]})
    assert v1.status_code == 422 and PHI not in v1.text
    tr = client.post("/api/v1/translations", headers=auth, json={"text": "hola", PHI: "x"})
    assert tr.status_code == 422 and PHI not in tr.text


def test_the_translations_404_does_not_repeat_the_id(client, auth):
    response = client.get(f"/api/v1/translations/{PHI}", headers=auth)
    assert response.status_code == 404 and PHI not in response.text


@pytest.mark.parametrize("path", ["/api/v1/epicrisis", "/v1/chat/completions", "/api/v1/documents/x"])
def test_malformed_json_without_a_key_is_401_before_422(client, path, auth):
    method = client.put if path.endswith("/x") else client.post
    response = method(path, content=b'{"record": ', headers={"content-type": "application/json"})
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    bad_key = method(path, content=b'{"record": ', headers={"content-type": "application/json",
                                                             "Authorization": "Bearer alta_nope"})
    assert bad_key.status_code == 401
    with_key = method(path, content=b'{"record": ', headers={"content-type": "application/json", **auth})
    assert with_key.status_code == 422


def test_a_500_carries_the_security_headers_and_no_exception_text(settings, auth, monkeypatch, caplog):
    def boom(*_args, **_kwargs):
        raise RuntimeError(f"patient {PHI} broke it")

    monkeypatch.setattr(docs_service, "search_documents", boom)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        response = client.get("/api/v1/documents", headers=auth)
        assert response.status_code == 500
        assert response.json() == {"detail": "internal error", "request_id": response.headers["x-request-id"]}
        for header in ("content-security-policy", "x-content-type-options", "cross-origin-opener-policy",
                       "x-frame-options", "cache-control"):
            assert header in response.headers, header
        assert client.get("/healthz").status_code == 200
    assert PHI not in caplog.text and "Traceback" not in caplog.text


@pytest.mark.parametrize(("path", "allow"), [
    ("/api/v1/documents", "GET, OPTIONS, POST"),
    ("/api/v1/documents/abc", "GET, OPTIONS, PUT"),
    ("/api/v1/epicrisis", "OPTIONS, POST"),
    ("/v1/chat/completions", "OPTIONS, POST"),
    ("/healthz", "GET, OPTIONS"),
])
def test_options_and_wrong_methods_answer_the_routes_allow(client, path, allow):
    options = client.options(path)
    assert options.status_code == 204 and options.headers["allow"] == allow
    wrong = client.request("DELETE", path)
    assert wrong.status_code == 405 and wrong.headers["allow"] == allow


def test_every_timestamp_carries_a_utc_offset(client, auth, record, doctor):
    created = client.post("/api/v1/epicrisis", json={"record": record}, headers=auth).json()
    signed = client.post(f"/api/v1/documents/{created['id']}/sign", headers=auth,
                         json={"version": 1, **doctor, "acknowledge_findings": True}).json()
    for value in (signed["created_at"], signed["updated_at"], signed["signed_at"], signed["versions"][0]["created_at"]):
        assert aware(value), value
    listed = client.get("/api/v1/documents", headers=auth).json()["items"][0]
    assert aware(listed["created_at"]) and aware(listed["updated_at"])
    version = client.get(f"/api/v1/documents/{created['id']}/versions/1", headers=auth).json()
    assert aware(version["created_at"])


def test_translation_timestamps_carry_a_utc_offset(settings, auth):
    # Apertium, the rule-based floor that `make test` installs (scripts/system-deps.sh), translates here.
    with TestClient(create_app(settings.model_copy(update={"engines": ["template", "apertium"]}))) as client:
        response = client.post("/api/v1/translations", headers=auth, json={"text": "Paciente con neumonía."})
        assert response.status_code in (200, 201, 202), response.text
        job = client.get(response.headers["location"], headers=auth).json()
    assert aware(job["created_at"]) and aware(job["finished_at"])


def test_a_database_outage_is_a_503_with_retry_after(settings, auth, monkeypatch):
    from sqlalchemy.exc import OperationalError

    def down(*_args, **_kwargs):
        raise OperationalError("SELECT ...", {"patient": PHI}, ConnectionRefusedError("connection refused"))

    monkeypatch.setattr(docs_service, "search_documents", down)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        response = client.get("/api/v1/documents", headers=auth)
    assert response.status_code == 503 and response.headers["retry-after"] == "5"
    assert response.json()["code"] == "database_unavailable" and PHI not in response.text
    assert "content-security-policy" in response.headers
