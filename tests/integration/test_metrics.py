"""/metrics: who may read it, what it counts, and that no patient data reaches it, the logs or
an error body (planted-PHI tests)."""

from __future__ import annotations

import copy
import logging
import re

import httpx
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.support import LiveServer

# Patient data planted in the requests below; none of it may come back anywhere but in the
# document itself (to a key allowed to read it).
PLANTED = ["María Elena", "Soto Pérez", "7.654.321-6", "7654321", "458812", "Zoila", "Quispe Mamani",
           "12.345.678-5", "12345678", "Los Aromos", "+56 9 8765 4321", "987654321"]


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def _phi_record(record: dict) -> dict:
    planted = copy.deepcopy(record)
    planted["admission"]["reason"] += (" Traída por su hija Zoila Quispe Mamani (RUT 12.345.678-5), que vive en "
                                       "Pasaje Los Aromos 1234, teléfono +56 9 8765 4321.")
    return planted


def test_metrics_need_an_admin_key_off_this_host(client: TestClient, make_key) -> None:
    assert client.get("/metrics").status_code == 401  # the test client is not a loopback address
    assert client.get("/metrics", headers=make_key("reader", ("read",))).status_code == 403
    response = client.get("/metrics", headers=make_key("ops", ("admin",)))
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    assert response.headers["cache-control"] == "no-store"
    assert "/metrics" not in client.get("/openapi.json").json()["paths"]


def test_requests_and_generations_are_counted_by_route_template(client: TestClient, auth, record) -> None:
    before = _samples(client.get("/metrics", headers=auth).text)
    doc = client.post("/api/v1/epicrisis", json={"record": record}, headers=auth).json()
    client.get(f"/api/v1/documents/{doc['id']}", headers=auth)
    client.get("/api/v1/documents/7654321-6", headers=auth)  # a RUT where an id goes: 404
    client.post("/api/v1/epicrisis/stream", json={"record": record}, headers=auth)
    after = _samples(client.get("/metrics", headers=auth).text)

    def delta(name: str, **labels) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    route = "/api/v1/documents/{document_id}"
    assert delta("alta_http_requests_total", route="/api/v1/epicrisis", method="POST", status="201") == 1
    assert delta("alta_http_requests_total", route=route, method="GET", status="200") == 1
    assert delta("alta_http_requests_total", route=route, method="GET", status="404") == 1
    assert delta("alta_http_request_seconds_count", route=route, method="GET") == 2
    assert delta("alta_generations_total", engine="template", task="epicrisis") == 2  # plain and streamed
    assert delta("alta_generation_seconds_count", engine="template", task="epicrisis") == 2
    assert _value(after, "alta_admission_rejections_total", reason="queue_full") >= 0
    assert ("alta_admission_inflight", ()) in after and ("alta_admission_queued", ()) in after


def test_unknown_methods_and_paths_do_not_make_new_labels(client: TestClient, auth) -> None:
    client.request("BREW", "/api/v1/documents", headers=auth)
    client.get("/api/v1/pacientes/Maria-Soto-7654321", headers=auth)
    text = client.get("/metrics", headers=auth).text
    assert 'method="BREW"' not in text and 'method="OTHER"' in text
    assert "pacientes" not in text and 'route="<unmatched>"' in text


def test_planted_phi_reaches_no_log_metric_or_error_body(client: TestClient, auth, record, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    planted = _phi_record(record)
    bodies = []
    created = client.post("/api/v1/epicrisis", json={"record": planted}, headers=auth)
    assert created.status_code == 201 and "Zoila Quispe Mamani" in created.json()["record"]["admission"]["reason"]
    streamed = client.post("/api/v1/epicrisis/stream", json={"record": planted}, headers=auth)
    assert streamed.status_code == 200

    bad = copy.deepcopy(planted)
    bad["patient"]["birth_date"] = "Zoila Quispe Mamani 12.345.678-5"  # PHI in a field that wants a date
    bad["patient"]["identifiers"][0]["value"] = "7.654.321-9"  # a RUT with a wrong check digit
    bad["discharge"]["destination"] = "Pasaje Los Aromos 1234"  # PHI where an enum value goes
    refused = client.post("/api/v1/epicrisis", json={"record": bad}, headers=auth)
    assert refused.status_code == 422
    assert {"record.patient.birth_date", "record.discharge.destination"} <= {e["field"] for e in refused.json()["detail"]}
    bodies.append(refused.text)
    wrong_type = client.put(f"/api/v1/documents/{created.json()['id']}",
                            json={"text": "x", "base_version": "Zoila Quispe Mamani", "author": "Dr. X"}, headers=auth)
    assert wrong_type.status_code == 422
    bodies.append(wrong_type.text)
    for path in ["/api/v1/documents/7654321-6", "/api/v1/documents/12.345.678-5/versions/1"]:
        response = client.get(path, headers=auth)
        assert response.status_code == 404
        bodies.append(response.text)
    search = client.get("/api/v1/documents", params={"patient": "12.345.678-5"}, headers=auth)
    assert search.status_code == 200 and search.json()["total"] == 0
    bad_search = client.get("/api/v1/documents", params={"patient": "Zoila Quispe Mamani " * 3}, headers=auth)
    assert bad_search.status_code == 422
    bodies.append(bad_search.text)

    # Metric and label names and label values; sample values are numbers (a duration's digits could
    # happen to spell an NHC, so they are left out).
    metrics = "\n".join(f"{name} {labels}" for name, labels in _samples(client.get("/metrics", headers=auth).text))
    # httpx's own log line is the test client's side of the request (it prints the URL), not the server's.
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records if not r.name.startswith("httpx"))
    assert "request_id=" in logged  # the access log ran
    for secret in PLANTED:
        assert secret not in metrics, secret
        assert secret not in logged, secret
        for body in bodies:
            assert secret not in body, (secret, body)


def test_live_server_serves_metrics_to_a_local_scraper_only(live_server: LiveServer) -> None:
    local = httpx.get(f"{live_server.url}/metrics", timeout=10)
    assert local.status_code == 200 and "alta_http_requests_total" in local.text
    assert re.search(r'alta_http_requests_total\{method="GET",route="/healthz",status="200"\} \d', local.text)
    proxied = httpx.get(f"{live_server.url}/metrics", headers={"X-Forwarded-For": "203.0.113.7"}, timeout=10)
    assert proxied.status_code == 401  # through a proxy on this host: a key is needed
