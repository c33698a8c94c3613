"""What the browser loads without a browser: the bundle list and files, the webapp mount, browser drafts.

Real SQLite files and the real app (TestClient); the bundle is the tiny one the export tests build.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from backend.app import create_app
from backend.core.config import Settings
from backend.db import migrate
from backend.db.session import make_engine, make_sessionmaker
from backend.services import apikeys
from clinical.contract import example_records
from tests.support import REPO


@pytest.fixture
def settings(tmp_path: Path, models_dir: Path, webapp_dist: Path) -> Settings:
    s = Settings(environment="test", data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'alta.db'}",
                 engines=["template"], models_dir=models_dir, webapp_dir=webapp_dist)
    migrate.upgrade(s.resolved_database_url)
    return s


@pytest.fixture
def client(settings: Settings):
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture
def make_key(settings: Settings):
    engine = make_engine(settings.resolved_database_url)

    def make(name: str = "clinician", scopes: tuple[str, ...] = ("generate", "read", "sign")) -> dict[str, str]:
        with make_sessionmaker(engine)() as session:
            return {"Authorization": f"Bearer {apikeys.create_key(session, name, list(scopes))}"}

    yield make
    engine.dispose()


@pytest.fixture
def auth(make_key) -> dict[str, str]:
    return make_key()


@pytest.fixture
def manifest(tiny_bundle_dir: Path) -> dict:
    return json.loads((tiny_bundle_dir / "manifest.json").read_text(encoding="utf-8"))


# --- the bundle list and files ---------------------------------------------------------------------


def test_bundle_list_is_public_and_describes_the_catalog(client, manifest):
    body = client.get("/api/v1/bundles").json()  # no API key: the page needs it before one is entered
    assert body["default"] == manifest["name"] and body["max_new_tokens"] > 0
    (model,) = body["models"]
    assert model["url"] == f"/models/{manifest['name']}/{manifest['version']}/" and model["version"] == manifest["version"]
    assert set(model["dtypes"]) == {d for d, e in manifest["dtypes"].items() if e["status"] == "passed"}
    sizes = {f["path"]: f["size"] for f in manifest["files"]}
    fp32 = model["dtypes"]["fp32"]
    assert fp32["file"] == "onnx/model.onnx"
    assert fp32["bytes"] == sizes["onnx/model.onnx"] + sizes["onnx/model.onnx_data"] + sizes["tokenizer.json"] + \
        sizes["config.json"] + sizes["tokenizer_config.json"] + sizes["generation_config.json"]


def test_bundle_list_is_empty_without_a_catalog(tmp_path, webapp_dist):
    s = Settings(environment="test", data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'a.db'}",
                 engines=["template"], models_dir=tmp_path / "no-models", webapp_dir=webapp_dist)
    with TestClient(create_app(s)) as c:
        assert c.get("/api/v1/bundles").json() == {"default": None, "models": [], "max_new_tokens": s.onnx_max_new_tokens}


def test_bundle_files_have_immutable_cache_etag_and_mime(client, manifest, tiny_bundle_dir):
    name = f"{manifest['name']}/{manifest['version']}"
    for path, media_type in [("onnx/model.onnx", "application/octet-stream"),
                             ("onnx/model.onnx_data", "application/octet-stream"),
                             ("config.json", "application/json")]:
        r = client.get(f"/models/{name}/{path}")
        assert r.status_code == 200, path
        assert r.content == (tiny_bundle_dir / path).read_bytes()
        assert r.headers["content-type"].startswith(media_type)
        assert "immutable" in r.headers["cache-control"] and "max-age=31536000" in r.headers["cache-control"]
        sha = next(f["sha256"] for f in manifest["files"] if f["path"] == path)
        assert r.headers["etag"] == f'"{sha}"'
        assert r.headers["cross-origin-embedder-policy"] == "require-corp"  # from the security middleware
        again = client.get(f"/models/{name}/{path}", headers={"If-None-Match": r.headers["etag"]})
        assert again.status_code == 304 and again.content == b""


def test_only_files_the_manifest_lists_are_served(client, manifest, tiny_bundle_dir):
    name = f"{manifest['name']}/{manifest['version']}"
    assert (tiny_bundle_dir / "manifest.json").is_file()
    for path in ["manifest.json", "../manifest.json", "onnx/../../catalog.json", "onnx/other.onnx", "%2e%2e/x"]:
        r = client.get(f"/models/{name}/{path}")
        assert r.status_code == 404, path
        assert r.headers["content-type"].startswith("application/json")
    assert client.get(f"/models/not-in-catalog/{manifest['version']}/config.json").status_code == 404
    # An earlier export's URL is not answered with today's files (its cached copies stay consistent).
    assert client.get(f"/models/{manifest['name']}/0123abcd/config.json").status_code == 404
    assert client.get("/models/..%2fetc/passwd").status_code in (404, 422)


def test_an_altered_bundle_file_is_not_served(client, manifest, tiny_bundle_dir, tmp_path, settings):
    copy_dir = tmp_path / "copy"
    shutil.copytree(tiny_bundle_dir, copy_dir)
    (copy_dir / "tokenizer.json").write_text("{}", encoding="utf-8")  # truncated copy
    catalog = json.loads((settings.models_dir / "catalog.json").read_text(encoding="utf-8"))
    models = tmp_path / "models"
    models.mkdir()
    catalog["models"][0]["bundle"] = str(copy_dir)
    (models / "catalog.json").write_text(json.dumps(catalog), encoding="utf-8")
    with TestClient(create_app(settings.model_copy(update={"models_dir": models}))) as c:
        base = f"/models/{manifest['name']}/{manifest['version']}"
        assert c.get(f"{base}/tokenizer.json").status_code == 404
        assert c.get(f"{base}/config.json").status_code == 200


# --- the webapp ------------------------------------------------------------------------------------


def test_webapp_is_served_at_root_with_fallback_and_isolation(client, webapp_dist):
    root = client.get("/")
    assert root.status_code == 200 and "<title>Alta" in root.text
    assert root.headers["cross-origin-opener-policy"] == "same-origin"
    assert root.headers["cache-control"] == "no-cache"
    assert client.get("/documento/abc").text == root.text  # client-side routes get the app
    sw = client.get("/sw.js")
    assert sw.headers["content-type"].startswith("text/javascript") and sw.headers["cache-control"] == "no-cache"
    for build in ("ort-wasm-simd-threaded", "ort-wasm-simd-threaded.asyncify"):  # WASM's and WebGPU's
        assert client.get(f"/ort/{build}.wasm").headers["content-type"] == "application/wasm"
    asset = next((webapp_dist / "assets").glob("index-*.js")).name
    assert "immutable" in client.get(f"/assets/{asset}").headers["cache-control"]
    # Unknown API routes and missing files stay plain 404s, not the app.
    missing = client.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("application/json")
    assert client.get("/assets/missing.js").status_code == 404
    assert client.get("/docs").status_code == 200  # the API docs still win over the mount


def test_without_a_build_the_api_still_works(tmp_path):
    s = Settings(environment="test", data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'a.db'}",
                 engines=["template"], webapp_dir=tmp_path / "no-dist")
    with TestClient(create_app(s)) as c:
        assert c.get("/").status_code == 404
        assert c.get("/healthz").json() == {"status": "ok"}


# --- drafts written in the browser -----------------------------------------------------------------


def browser_draft(record: dict | None = None, text: str | None = None, **provenance) -> dict:
    record = record or copy.deepcopy(example_records()["neumonia_chile"])
    return {
        "id": str(uuid.uuid4()), "record": record,
        "text": text or "IDENTIFICACIÓN\nNeumonía adquirida en la comunidad (J18.9).\n",
        "provenance": {"engine": "transformers.js", "model": "bundle", "model_version": "abc123", "dtype": "fp32",
                       "device": "wasm", "latency_ms": 1234.5, **provenance},
    }


def test_a_browser_draft_is_stored_once_with_its_provenance_and_checks(client, auth):
    draft = browser_draft()
    first = client.post("/api/v1/documents", json=draft, headers=auth)
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["id"] == draft["id"] and first.headers["location"] == f"/api/v1/documents/{draft['id']}"
    assert body["provenance"]["engine"] == "transformers.js"
    assert body["provenance"]["model_version"] == "abc123-fp32"
    assert body["versions"][0]["author"] == "transformers.js"
    codes = {f["code"] for f in body["checks"]["findings"]}
    assert "missing_diagnosis" in codes  # the server's record review ran on the browser's text
    assert body["checks"]["reviewed"] is True and body["provenance"]["demo"] is False

    again = client.post("/api/v1/documents", json=draft, headers=auth)
    assert again.status_code == 200 and again.json()["id"] == draft["id"]
    listed = client.get("/api/v1/documents", params={"patient": "7.654.321-6"}, headers=auth).json()
    assert listed["total"] == 1


def test_a_retry_after_an_edit_is_still_the_same_draft(client, auth):
    draft = browser_draft()
    client.post("/api/v1/documents", json=draft, headers=auth)
    edit = client.put(f"/api/v1/documents/{draft['id']}", headers=auth,
                      json={"text": "otro texto", "base_version": 1, "author": "Dra. Pérez"})
    assert edit.status_code == 200
    again = client.post("/api/v1/documents", json=draft, headers=auth)
    assert again.status_code == 200 and again.json()["version"] == 2  # the stored document, not a reset


@pytest.mark.parametrize("change", ["text", "record", "dtype"])
def test_other_content_under_an_existing_id_is_a_conflict(client, auth, change):
    draft = browser_draft()
    assert client.post("/api/v1/documents", json=draft, headers=auth).status_code == 201
    other = copy.deepcopy(draft)
    if change == "text":
        other["text"] += "Agregado.\n"
    elif change == "record":
        other["record"]["evolution"] = "Otra evolución."
    else:
        other["provenance"]["dtype"] = "q4"
    r = client.post("/api/v1/documents", json=other, headers=auth)
    assert r.status_code == 409 and r.json()["code"] == "client_draft_conflict"
    assert client.get(f"/api/v1/documents/{draft['id']}", headers=auth).json()["text"] == draft["text"]


def test_an_engine_document_id_cannot_be_taken_over(client, auth):
    made = client.post("/api/v1/epicrisis", json={"record": example_records()["minimo"]}, headers=auth).json()
    draft = browser_draft(record=example_records()["minimo"], text=made["text"])
    draft["id"] = made["id"]
    assert client.post("/api/v1/documents", json=draft, headers=auth).status_code == 409


@pytest.mark.parametrize("patch, field", [
    ({"id": "not-a-uuid"}, "id"),
    ({"provenance": {"engine": "onnx", "model": "m", "model_version": "1", "dtype": "fp32", "device": "wasm",
                     "latency_ms": 1}}, "provenance.engine"),
    ({"provenance": {"engine": "transformers.js", "model": "m", "model_version": "1", "dtype": "fp64",
                     "device": "wasm", "latency_ms": 1}}, "provenance.dtype"),
    ({"text": ""}, "text"),
])
def test_bad_browser_drafts_get_a_422_naming_the_field(client, auth, patch, field):
    draft = {**browser_draft(), **patch}
    r = client.post("/api/v1/documents", json=draft, headers=auth)
    assert r.status_code == 422
    assert field in {e["field"] for e in r.json()["detail"]}
    assert "María" not in r.text  # no patient data in error bodies


def test_storing_a_browser_draft_needs_the_generate_scope(client, make_key):
    reader = make_key("reader", ("read",))
    assert client.post("/api/v1/documents", json=browser_draft(), headers=reader).status_code == 403
    assert client.post("/api/v1/documents", json=browser_draft()).status_code == 401


def test_the_pages_spanish_messages_cover_the_servers_422s(client, auth):
    """Real 422 bodies mapped by the page's own serverErrors (webapp/src/schema.js), run in Node."""
    record = copy.deepcopy(example_records()["neumonia_chile"])
    record["diagnoses"][1]["code"] = "diabetes"
    record["discharge"]["discharged_on"] = "2026-01-05"
    cases = []
    r = client.post("/api/v1/epicrisis", json={"record": record}, headers=auth)
    cases.append(r.json()["detail"])
    record = copy.deepcopy(example_records()["neumonia_chile"])
    record["discharge"]["discharged_on"] = "2026-01-05"
    cases.append(client.post("/api/v1/epicrisis", json={"record": record}, headers=auth).json()["detail"])
    record = copy.deepcopy(example_records()["neumonia_chile"])
    record["patient"]["identifiers"][0]["value"] = "7.654.321-5"
    del record["admission"]["service"]
    cases.append(client.post("/api/v1/epicrisis", json={"record": record}, headers=auth).json()["detail"])
    script = ("import { serverErrors } from './webapp/src/schema.js';"
              "const cases = JSON.parse(process.argv[1]);"
              "console.log(JSON.stringify(cases.map((c) => serverErrors(c))));")
    out = subprocess.run(["node", "--input-type=module", "-e", script, json.dumps(cases)], cwd=REPO,
                         capture_output=True, text=True, check=True, timeout=60)
    mapped = json.loads(out.stdout)
    assert {"path": "diagnoses.1.code", "type": "cie10_invalid"}.items() <= mapped[0][0].items()
    assert mapped[1] == [{"path": "discharge.discharged_on", "type": "discharge_before_admission",
                          "message": "El alta es anterior al ingreso."}]
    paths = {e["path"]: e["message"] for e in mapped[2]}
    assert paths["admission.service"] == "Campo obligatorio."
    assert "Identificador no válido" in paths["patient.identifiers.0"]
    for errors in mapped:
        assert all(e["message"] != "Valor no válido." for e in errors), errors  # every type has Spanish
