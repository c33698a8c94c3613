"""The main flow over real HTTP: the CLI migrates and makes keys, uvicorn serves on loopback."""

from __future__ import annotations

import sqlite3

import httpx

from tests.support import LiveServer


def test_main_flow_over_http(live_server: LiveServer, record: dict) -> None:
    key = live_server.cli("create-key", "--name", "ehr-central", "--scopes", "generate", "read", "sign")
    token = key.stdout.strip().splitlines()[-1]
    assert token.startswith("alta_")
    auth = {"Authorization": f"Bearer {token}"}
    password = live_server.log.parent / "doctor-password"
    password.write_text("clave-de-la-doctora\n")
    live_server.cli("create-user", "--username", "perez", "--name", "Dra. Pérez", "--role", "medico",
                    "--registry-type", "RNPI", "--registry-number", "123456", "--password-file", str(password))

    with httpx.Client(base_url=live_server.url, headers=auth, timeout=30) as http:
        created = http.post("/api/v1/epicrisis", json={"record": record})
        assert created.status_code == 201, created.text
        doc = created.json()
        assert doc["provenance"]["engine"] == "template" and doc["checks"]["ok"]
        for diagnosis in record["diagnoses"]:
            assert f"{diagnosis['description']} (CIE-10: {diagnosis['code']})" in doc["text"]

        url = f"/api/v1/documents/{doc['id']}"
        edited = http.put(url, json={"text": doc["text"] + "\nRevisado.", "base_version": 1, "author": "Dra. Pérez"})
        assert edited.status_code == 200 and edited.json()["version"] == 2
        signed = http.post(f"{url}/sign", json={"version": 2, "username": "perez", "password": "clave-de-la-doctora"})
        assert signed.json()["status"] == "signed" and signed.json()["signed_by"] == "Dra. Pérez"
        listed = http.get("/api/v1/documents", params={"patient": "7.654.321-6"}).json()
        assert [d["id"] for d in listed["items"]] == [doc["id"]]

        with http.stream("POST", "/api/v1/epicrisis/stream", json={"record": record}) as stream:
            body = "".join(stream.iter_text())
        assert body.startswith("event: start") and "event: done" in body

    revoked = live_server.cli("revoke-key", "--name", "ehr-central")
    assert "revoked" in revoked.stdout
    assert httpx.get(f"{live_server.url}/api/v1/models", headers=auth).status_code == 401

    db = live_server.env["ALTA_DATA_DIR"] + "/alta.db"
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT count(*) FROM document_versions").fetchone()[0] == 3
        stored = conn.execute("SELECT secret_sha256 FROM api_keys").fetchone()[0]
    assert token not in stored and len(stored) == 64  # only the hash is stored

    live_server.stop()
    log = live_server.log.read_text()
    assert "POST /api/v1/epicrisis 201" in log and "GET /api/v1/documents 200" in log
    for secret in ["María", "7.654.321", "7654321", "patient="]:
        assert secret not in log


def test_dev_key_is_created_once(live_server: LiveServer) -> None:
    first = live_server.cli("dev-key").stdout
    key = live_server.cli("dev-key")
    token = first.strip().splitlines()[-1]
    assert token.startswith("alta_") and token not in key.stdout  # printed once
    stored = (live_server.env["ALTA_DATA_DIR"] + "/dev-api-key")
    with open(stored) as f:
        assert f.read().strip() == token
    assert httpx.get(f"{live_server.url}/api/v1/models", headers={"Authorization": f"Bearer {token}"}).status_code == 200
