"""Security headers on every response: the CSP the webapp's WASM runs under, cross-origin isolation,
no caching of answers that hold patient data."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from backend.api.security import SecurityPolicy


def _csp(response) -> dict[str, list[str]]:
    directives = {}
    for part in response.headers["content-security-policy"].split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


def _assert_isolated(response) -> None:
    h = response.headers
    assert h["x-content-type-options"] == "nosniff"
    assert h["referrer-policy"] == "no-referrer"
    assert h["cross-origin-opener-policy"] == "same-origin"
    assert h["cross-origin-embedder-policy"] == "require-corp"
    assert h["cross-origin-resource-policy"] == "same-origin"
    csp = _csp(response)
    assert csp["script-src"] == ["'self'", "'wasm-unsafe-eval'"]  # WASM yes, eval and inline no
    assert csp["worker-src"] == ["'self'", "blob:"]
    assert csp["connect-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"] and csp["object-src"] == ["'none'"]
    for sources in csp.values():  # nothing from another origin, in any directive
        assert not any(s.startswith(("http:", "https:", "*")) or "://" in s for s in sources), sources


def test_every_kind_of_response_carries_the_headers(client: TestClient, auth, record, settings) -> None:
    created = client.post("/api/v1/epicrisis", json={"record": record}, headers=auth)
    responses = [
        created,
        client.get(f"/api/v1/documents/{created.json()['id']}", headers=auth),
        client.get("/healthz"),
        client.get("/openapi.json"),
        client.get("/api/v1/models"),  # 401
        client.get("/api/v1/documents/nope", headers=auth),  # 404
        client.post("/api/v1/epicrisis", json={"record": {}}, headers=auth),  # 422
        client.post("/api/v1/epicrisis", content=b"x" * (settings.max_body_bytes + 1),
                    headers={**auth, "Content-Type": "application/json"}),  # 413, from a middleware
        client.get("/api/v1/no/such/route"),
    ]
    assert [r.status_code for r in responses] == [201, 200, 200, 200, 401, 404, 422, 413, 404]
    for response in responses:
        _assert_isolated(response)


def test_answers_with_patient_data_are_not_cached(client: TestClient, auth, record) -> None:
    created = client.post("/api/v1/epicrisis", json={"record": record}, headers=auth)
    assert created.headers["cache-control"] == "no-store"
    listed = client.get("/api/v1/documents", params={"patient": "7654321-6"}, headers=auth)
    assert listed.headers["cache-control"] == "no-store"
    assert "cache-control" not in client.get("/healthz").headers


def test_stream_keeps_its_own_headers(client: TestClient, auth, record) -> None:
    response = client.post("/api/v1/epicrisis/stream", json={"record": record}, headers=auth)
    assert response.headers["cache-control"] == "no-store"  # set by the route, not duplicated
    assert response.headers.get_list("cache-control") == ["no-store"]
    _assert_isolated(response)


def test_api_docs_get_the_only_exception(client: TestClient) -> None:
    docs = client.get("/docs")
    assert docs.status_code == 200
    csp = _csp(docs)
    assert csp["script-src"] == ["'self'", "'unsafe-inline'"]  # Swagger UI from this server, no CDN (issue 20)
    assert csp["frame-ancestors"] == ["'none'"] and csp["connect-src"] == ["'self'"]
    assert "cross-origin-embedder-policy" not in docs.headers
    assert "swagger-ui" in docs.text


def test_hsts_only_over_https() -> None:
    policy = SecurityPolicy()
    plain = dict(policy.headers("/api/v1/documents"))
    secure = dict(policy.headers("/api/v1/documents", https=True))
    assert b"strict-transport-security" not in plain
    assert secure[b"strict-transport-security"].startswith(b"max-age=")


def test_the_app_serves_with_the_policy_object(client: TestClient) -> None:
    policy: SecurityPolicy = client.app.state.security_policy
    response = client.get("/healthz")
    assert response.headers["content-security-policy"] == policy.content_security_policy()


@pytest.mark.parametrize("origin", ["https://evil.example"])
def test_cors_is_off_unless_configured(client: TestClient, origin: str) -> None:
    response = client.options("/api/v1/documents", headers={"Origin": origin, "Access-Control-Request-Method": "GET"})
    assert "access-control-allow-origin" not in response.headers
