"""POST/GET /api/v1/translations: text and PDF in, text and PDF out, jobs, 503 without a model, no PHI leaks.

The model is the one part that cannot run here (no translation model can be downloaded): the success
paths use the test double ``GlossaryTranslator`` registered as an engine for the "translation"
task; a real ONNX Runtime engine on a random tiny bundle covers the failure path end to end.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import select

from backend.app import create_app
from backend.core.config import Settings
from backend.db.models import AuditEvent, TranslationCacheEntry, TranslationJob, utcnow
from backend.engines.apertium import installed_modes
from backend.engines.base import EngineBusy, EngineHealth
from backend.engines.registry import EngineRegistry
from backend.engines.template import TemplateEngine
from devtools import export_testing as testing
from tests.support.translation import (
    NOTE,
    GlossaryTranslator,
    drop_first_placeholder,
    image_pdf,
    scan_for_phi,
    text_pdf,
)

URL = "/api/v1/translations"


@pytest.fixture
def make_client(settings: Settings):
    """A client whose app has ``engines`` (then the template engine) and these setting overrides."""
    clients: list[TestClient] = []

    def make(*engines, **overrides) -> TestClient:
        app = create_app(settings.model_copy(update={"translation_chunk_tokens": 40, **overrides}))
        app.state.engines = EngineRegistry([*engines, TemplateEngine()])
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def wait_finished(client: TestClient, url: str, auth: dict, timeout_s: float = 120) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        body = client.get(url, headers=auth).json()
        if body["status"] in ("done", "failed"):
            return body
        time.sleep(0.1)
    raise AssertionError(f"translation still {body['status']} after {timeout_s} s")


def stored(sessions) -> tuple[list[TranslationCacheEntry], list[TranslationJob]]:
    with sessions() as session:
        return (list(session.scalars(select(TranslationCacheEntry))), list(session.scalars(select(TranslationJob))))


def cache_text(rows: list[TranslationCacheEntry]) -> str:
    return "\n".join(f"{r.key} {r.model} {r.source_text} {r.translation}" for r in rows)


def test_no_translation_engine_is_503_saying_how_to_configure_one(client: TestClient, auth, sessions) -> None:
    answer = client.post(URL, headers=auth, json={"text": NOTE})
    assert answer.status_code == 503 and answer.json()["code"] == "no_translation_engine"
    detail = answer.json()["detail"]
    assert "template (epicrisis)" in detail and "--tasks translation" in detail
    assert "ALTA_ONNX_MODEL" in detail and "ALTA_ENGINES" in detail
    assert "ALTA_VLLM_BASE_URLS" in detail and "ALTA_VLLM_MODELS" in detail  # or serve it with vLLM
    assert scan_for_phi(answer.text) == [] and stored(sessions) == ([], [])


def test_a_small_text_is_translated_at_once_and_says_who_wrote_it(make_client, auth, sessions, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    translator = GlossaryTranslator()
    client = make_client(translator)
    answer = client.post(URL, headers=auth, json={"text": NOTE, "source_variant": "es-CL"})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert answer.headers["Location"] == f"{URL}/{body['id']}" and answer.headers["X-Alta-Engine"] == "test-translator"
    assert body["status"] == "done" and body["source"] == {"kind": "text", "variant": "es-CL", "chars": len(NOTE),
                                                          "pages": None, "ocr_pages": 0}
    assert body["text"].startswith("DISCHARGE SUMMARY\n\nName: Marcela Soto Aravena.\n")
    assert "12.345.678-5" in body["text"] and "+56 9 8765 4321" in body["text"] and "acetaminophen" in body["text"]
    assert body["provenance"]["engine"] == "test-translator"
    assert body["provenance"]["model"] == "test-glossary-word-by-word" and body["provenance"]["fallbacks"] == []
    assert body["progress"]["chunks_total"] > 2 and body["term_accuracy"] == 1.0

    again = client.get(f"{URL}/{body['id']}", headers=auth)
    assert again.json()["text"] == body["text"] and again.headers["Cache-Control"] == "no-store"
    as_text = client.get(f"{URL}/{body['id']}?format=text", headers=auth)
    assert as_text.headers["content-type"].startswith("text/plain") and as_text.text == body["text"]

    # the model saw no PHI, nor did the logs or the cache; the cache is used for the same text again
    assert scan_for_phi(json.dumps([m for m, _p in translator.calls], ensure_ascii=False), caplog.text) == []
    rows, _jobs = stored(sessions)
    assert len(rows) == body["progress"]["chunks_total"] and scan_for_phi(cache_text(rows)) == []
    calls = len(translator.calls)
    second = client.post(URL, headers=auth, json={"text": NOTE}).json()
    assert len(translator.calls) == calls and second["progress"]["chunks_cached"] == second["progress"]["chunks_total"]
    assert second["text"] == body["text"]
    with sessions() as session:
        actions = [(e.action, e.detail) for e in session.scalars(select(AuditEvent).where(
            AuditEvent.document_id == body["id"]).order_by(AuditEvent.id))]
    assert actions[:2] == [("create", "translation"), ("read", "translation")]


def test_a_large_text_is_a_job_with_status_then_the_result(make_client, auth) -> None:
    client = make_client(GlossaryTranslator(), translation_sync_max_chars=100)
    answer = client.post(URL, headers=auth, json={"text": NOTE})
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["status"] in ("queued", "running") and body["text"] is None
    assert answer.headers["Location"] == f"{URL}/{body['id']}" == body["links"]["self"]
    done = wait_finished(client, answer.headers["Location"], auth)
    assert done["status"] == "done" and "Marcela Soto Aravena" in done["text"]
    assert done["progress"]["chunks_done"] == done["progress"]["chunks_total"] > 2
    assert done["provenance"]["engine"] == "test-translator"


def test_pdf_with_a_text_layer_in_and_a_pdf_out(make_client, auth) -> None:
    client = make_client(GlossaryTranslator(), translation_sync_max_chars=10_000)
    pdf = text_pdf([[("h", "EPICRISIS"), ("p", "Nombre: Marcela Soto Aravena."),
                     ("p", "Paciente de 67 años con HTA. Se indica paracetamol 1 g cada 8 horas.")],
                    [("h", "INDICACIONES"), ("p", "Control en CESFAM en 7 días.")]])
    answer = client.post(URL, headers=auth, files={"file": ("epicrisis.pdf", pdf, "application/pdf")},
                         data={"source_variant": "es-CL"})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["source"]["kind"] == "pdf" and body["source"]["pages"] == 2 and body["source"]["ocr_pages"] == 0
    assert body["text"].split("\f")[1].startswith("INSTRUCTIONS")

    out = client.get(f"{URL}/{body['id']}?format=pdf", headers=auth)
    assert out.status_code == 200 and out.headers["content-type"] == "application/pdf"
    assert out.headers["content-disposition"] == f'attachment; filename="translation-{body["id"]}.pdf"'
    pages = [p.extract_text() for p in PdfReader(io.BytesIO(out.content)).pages]
    assert len(pages) == 2
    assert "DISCHARGE SUMMARY" in pages[0] and "Marcela Soto Aravena" in pages[0] and "acetaminophen" in pages[0]
    assert "INSTRUCTIONS" in pages[1] and "test-glossary-word-by-word" in pages[1]


def test_a_scanned_pdf_goes_through_ocr_as_a_job(make_client, auth) -> None:
    client = make_client(GlossaryTranslator())
    pdf = image_pdf(["EPICRISIS", "", "Paciente de 67 años con fiebre y tos.", "Se indica paracetamol 1 g cada 8 horas.",
                     "", "INDICACIONES", "", "Control en 7 días."])
    answer = client.post(URL, headers=auth, files={"file": ("scan.pdf", pdf, "application/pdf")})
    assert answer.status_code == 202, answer.text
    done = wait_finished(client, answer.headers["Location"], auth)
    assert done["status"] == "done", done["error"]
    assert done["source"]["ocr_pages"] == 1 and done["source"]["chars"] > 50
    assert done["text"].startswith("DISCHARGE SUMMARY") and "acetaminophen" in done["text"]
    assert "fever" in done["text"] and "INSTRUCTIONS" in done["text"]
    pdf_out = client.get(f"{URL}/{done['id']}?format=pdf", headers=auth)
    assert "acetaminophen" in PdfReader(io.BytesIO(pdf_out.content)).pages[0].extract_text()


@pytest.mark.parametrize(("kwargs", "field", "kind"), [
    ({"json": {"text": ""}}, "text", "string_too_short"),
    ({"json": {"text": "  \n "}}, "text", "value_error"),
    ({"json": {"texto": "hola"}}, "text", "missing"),
    ({"json": {"text": "hola", "source_variant": "es-AR"}}, "source_variant", "literal_error"),
    ({"json": {"text": "hola", "engine": "x"}}, "engine", "extra_forbidden"),
    ({"files": {"file": ("nota.txt", b"Paciente Marcela Soto Aravena", "text/plain")}}, "file", "invalid_pdf"),
    ({"files": {"other": ("a.pdf", b"%PDF-1.4", "application/pdf")}}, "file", "missing"),
    ({"files": {"file": ("a.pdf", text_pdf([[("p", "hola")]]), "application/pdf")}, "data": {"source_variant": "x"}},
     "source_variant", "literal_error"),
    ({"files": {"file": ("a.pdf", b"%PDF-1.4\n%%EOF", "application/pdf")}}, "file", "invalid_pdf"),
])
def test_bad_input_is_a_422_naming_the_field(make_client, auth, kwargs, field, kind) -> None:
    client = make_client(GlossaryTranslator())
    answer = client.post(URL, headers=auth, **kwargs)
    assert answer.status_code == 422, answer.text
    assert (field, kind) in [(e["field"], e["type"]) for e in answer.json()["detail"]]
    assert "Marcela" not in answer.text


def test_size_limits(make_client, auth) -> None:
    # Uploads to translate have their own limit, above the API's: a scanned PDF is megabytes.
    client = make_client(GlossaryTranslator(), translation_max_chars=50, max_body_bytes=2_000, max_upload_bytes=4_000)
    too_long = client.post(URL, headers=auth, json={"text": NOTE[:200] + "x" * 2_500})
    assert too_long.status_code == 422  # over the API's 2,000 bytes, under the upload limit: read and judged
    assert too_long.json()["detail"][0]["field"] == "text" and "at most 50" in too_long.json()["detail"][0]["msg"]
    too_big = client.post(URL, headers=auth, json={"text": "x" * 5_000})
    assert too_big.status_code == 413 and "ALTA_MAX_UPLOAD_BYTES" in too_big.json()["detail"]
    elsewhere = client.post("/api/v1/epicrisis", headers=auth, json={"text": "x" * 3_000})
    assert elsewhere.status_code == 413 and "ALTA_MAX_BODY_BYTES" in elsewhere.json()["detail"]
    wrong_type = client.post(URL, headers={**auth, "Content-Type": "text/plain"}, content=b"hola")
    assert wrong_type.status_code == 415 and "multipart/form-data" in wrong_type.json()["detail"]


def test_scopes_not_found_and_not_ready(make_client, make_key, auth, sessions) -> None:
    client = make_client(GlossaryTranslator())
    reader, writer = make_key("reader", ("read",)), make_key("writer", ("generate",))
    assert client.post(URL, headers=reader, json={"text": "hola"}).status_code == 403
    created = client.post(URL, headers=writer, json={"text": "Paciente con fiebre."})
    assert created.status_code == 201
    assert client.get(f"{URL}/{created.json()['id']}", headers=writer).status_code == 403
    assert client.get(f"{URL}/{created.json()['id']}", headers=reader).status_code == 200
    assert client.get(f"{URL}/nope", headers=auth).json()["code"] == "translation_not_found"

    with sessions() as session:  # a job whose server died: no progress for longer than the stall limit
        job = TranslationJob(status="running", source_kind="text", source_chars=10, created_by="ehr", request_id="r",
                             heartbeat_at=utcnow().replace(year=2020))
        session.add(job)
        session.commit()
        job_id = job.id
    pdf = client.get(f"{URL}/{job_id}?format=pdf", headers=auth)
    assert pdf.status_code == 409 and pdf.json()["code"] == "translation_not_ready"
    assert "interrupted" in pdf.json()["detail"]
    assert client.get(f"{URL}/{job_id}", headers=auth).json()["error"]["code"] == "interrupted"


def test_planted_phi_never_reaches_logs_cache_or_error_bodies(make_client, auth, sessions, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    broken = GlossaryTranslator(drop_first_placeholder, name="broken")
    client = make_client(broken)
    failed = client.post(URL, headers=auth, json={"text": NOTE})
    assert failed.status_code == 502 and failed.json()["code"] == "placeholders_not_kept"
    assert "missing __PHI_NOMBRE_1__ (x1)" in failed.json()["detail"] and len(broken.calls) == 2
    assert scan_for_phi(failed.text, caplog.text) == []
    rows, jobs = stored(sessions)
    assert jobs == [] and scan_for_phi(cache_text(rows)) == []

    # a large text: the job fails in the background, and says why without PHI
    job_client = make_client(GlossaryTranslator(drop_first_placeholder), translation_sync_max_chars=10)
    queued = job_client.post(URL, headers=auth, json={"text": NOTE})
    failed_job = wait_finished(job_client, queued.headers["Location"], auth)
    assert failed_job["status"] == "failed" and failed_job["error"]["code"] == "placeholders_not_kept"
    assert scan_for_phi(json.dumps(failed_job), caplog.text) == []

    # a broken engine first, a working one behind it: the second writes it, and the answer says why
    client = make_client(GlossaryTranslator(drop_first_placeholder, name="broken"), GlossaryTranslator())
    answer = client.post(URL, headers=auth, json={"text": NOTE})
    assert answer.status_code == 201
    provenance = answer.json()["provenance"]
    assert provenance["engine"] == "test-translator" and provenance["fallbacks"][0]["engine"] == "broken"
    assert "missing __PHI_NOMBRE_1__" in provenance["fallbacks"][0]["reason"]
    assert scan_for_phi(json.dumps(provenance), caplog.text) == []
    rows, _jobs = stored(sessions)
    assert rows and scan_for_phi(cache_text(rows)) == []


@pytest.fixture
def translation_models(tmp_path: Path) -> Path:
    return testing.catalog_dir(tmp_path / "models", testing.tiny_bundle().out, ["translation"])


def test_a_random_onnx_model_ends_in_a_clean_502(settings: Settings, translation_models: Path, auth, sessions,
                                                  caplog) -> None:
    caplog.set_level(logging.DEBUG)
    app_settings = settings.model_copy(update={"engines": ["onnx", "template"], "models_dir": translation_models,
                                               "translation_max_new_tokens": 12, "translation_chunk_tokens": 160})
    with TestClient(create_app(app_settings)) as client:
        models = {m["engine"]: m["tasks"] for m in client.get("/api/v1/models", headers=auth).json()}
        assert models == {"onnx": ["translation"], "template": ["epicrisis"]}
        answer = client.post(URL, headers=auth, json={"text": NOTE})
    assert answer.status_code == 502 and answer.json()["code"] == "placeholders_not_kept"
    assert "after 2 attempts" in answer.json()["detail"] and "missing __PHI_" in answer.json()["detail"]
    assert "translation chunk 1/" in caplog.text and "attempt 2 unusable" in caplog.text
    rows, jobs = stored(sessions)
    assert scan_for_phi(answer.text, caplog.text, cache_text(rows)) == [] and jobs == []


def test_live_server_answers_503_without_a_translation_model(live_server) -> None:
    key = live_server.cli("create-key", "--name", "ehr", "--scopes", "generate", "read").stdout.strip().splitlines()[-1]
    answer = httpx.post(f"{live_server.url}{URL}", headers={"Authorization": f"Bearer {key}"},
                        json={"text": NOTE}, timeout=30)
    assert answer.status_code == 503 and answer.json()["code"] == "no_translation_engine"
    assert scan_for_phi(answer.text, live_server.log.read_text()) == []


class StuckTranslator(GlossaryTranslator):
    """TEST DOUBLE of a model that never finishes (a decode still running when the server stops)."""

    name = "stuck"

    async def complete(self, messages, task, params=None):
        self.calls.append((messages, params))
        await asyncio.Event().wait()


def test_jobs_running_at_shutdown_are_recorded_as_interrupted(settings: Settings, auth, sessions) -> None:
    engine = StuckTranslator()
    app = create_app(settings.model_copy(update={"translation_sync_max_chars": 10}))
    app.state.engines = EngineRegistry([engine, TemplateEngine()])
    with TestClient(app) as client:
        job_id = client.post(URL, headers=auth, json={"text": NOTE}).json()["id"]
        deadline = time.monotonic() + 30
        while not engine.calls and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.get(f"{URL}/{job_id}", headers=auth).json()["status"] == "running"
    with sessions() as session:
        job = session.get(TranslationJob, job_id)
        assert (job.status, job.error_code) == ("failed", "interrupted")
        assert "submit the document again" in job.error_detail


# --- Apertium, the floor on a fresh machine --------------------------------------------------------

needs_apertium = pytest.mark.skipif("spa-eng" not in installed_modes(),
                                    reason="apertium spa-eng is not installed (scripts/system-deps.sh test)")


@needs_apertium
def test_with_no_model_configured_apertium_translates_text_and_pdfs(settings: Settings, tmp_path, auth,
                                                                     sessions, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    # The default engine order of a machine with no model: ["template", "apertium"].
    fresh = settings.model_copy(update={"engines": None, "models_dir": tmp_path / "no-models"})
    assert fresh.engine_order == ["template", "apertium"]
    with TestClient(create_app(fresh)) as client:
        answer = client.post(URL, headers=auth, json={"text": NOTE})
        assert answer.status_code == 201, answer.text
        body = answer.json()
        assert body["provenance"]["engine"] == "apertium" and "rule-based" in body["provenance"]["model"]
        assert answer.headers["X-Alta-Engine"] == "apertium"
        text = body["text"]
        for phi in ("Marcela Soto Aravena", "12.345.678-5", "+56 9 8765 4321"):
            assert text.count(phi) == NOTE.count(phi), phi
        assert "acetaminophen" in text and "community-acquired pneumonia" in text and "hypertension" in text
        assert body["term_accuracy"] >= 0.8
        pdf_out = client.get(f"{URL}/{body['id']}?format=pdf", headers=auth)
        assert "Rule-based" in "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf_out.content)).pages)

        pdf = text_pdf([[("h", "EPICRISIS"), ("p", "Nombre: Marcela Soto Aravena."),
                         ("p", "Paciente de 67 años con HTA. Se indica paracetamol 1 g cada 8 horas.")]])
        answer = client.post(URL, headers=auth, files={"file": ("e.pdf", pdf, "application/pdf")})
        assert answer.status_code == 201, answer.text
        assert answer.json()["provenance"]["engine"] == "apertium"
        assert "Marcela Soto Aravena" in answer.json()["text"] and "acetaminophen" in answer.json()["text"]

        scan = image_pdf(["EPICRISIS", "", "Paciente de 67 años con fiebre y tos.",
                          "Se indica paracetamol 1 g cada 8 horas."])
        queued = client.post(URL, headers=auth, files={"file": ("scan.pdf", scan, "application/pdf")})
        assert queued.status_code == 202, queued.text
        done = wait_finished(client, queued.headers["Location"], auth)
        assert done["status"] == "done", done["error"]
        assert done["provenance"]["engine"] == "apertium" and done["source"]["ocr_pages"] == 1
        assert "acetaminophen" in done["text"] and "fever" in done["text"].lower()
    rows, _jobs = stored(sessions)
    assert rows and scan_for_phi(cache_text(rows), caplog.text) == []


class BusyTranslator(GlossaryTranslator):
    """TEST DOUBLE of a model engine whose every slot is taken: its health says busy (a field)."""

    name = "busy-model"

    def __init__(self, takes_work: bool = False) -> None:
        super().__init__()
        self.takes_work = takes_work

    async def health(self) -> EngineHealth:
        return EngineHealth(False, "all slots taken", busy=True)

    async def complete(self, messages, task, params=None):
        if not self.takes_work:
            raise EngineBusy("all slots taken")
        return await super().complete(messages, task, params)


def test_a_busy_engine_is_passed_over_as_busy_in_the_one_chain(make_client, auth) -> None:
    from backend.core import metrics

    before = metrics.FALLBACKS.labels("busy-model", "translation", "busy")._value.get()
    client = make_client(BusyTranslator(), GlossaryTranslator())
    answer = client.post(URL, headers=auth, json={"text": NOTE})
    assert answer.status_code == 201, answer.text
    fallbacks = answer.json()["provenance"]["fallbacks"]
    assert fallbacks == [{"engine": "busy-model", "reason": "busy: all slots taken"}]
    assert metrics.FALLBACKS.labels("busy-model", "translation", "busy")._value.get() == before + 1


def test_a_job_waits_for_a_busy_engine_instead_of_passing_it_over(make_client, auth) -> None:
    engine = BusyTranslator(takes_work=True)  # says busy, but takes the work when asked
    client = make_client(engine, translation_sync_max_chars=10)
    queued = client.post(URL, headers=auth, json={"text": NOTE})
    done = wait_finished(client, queued.headers["Location"], auth)
    assert done["status"] == "done" and done["provenance"]["engine"] == "busy-model"


@needs_apertium
def test_the_openai_surface_translates_with_apertium(settings: Settings, auth) -> None:
    app = create_app(settings.model_copy(update={"engines": ["template", "apertium"]}))
    with TestClient(app) as client:
        models = client.get("/v1/models", headers=auth).json()
        assert "translation" in [m["id"] for m in models["data"]]
        body = {"model": "translation", "messages": [{"role": "user", "content": "Paciente con HTA y fiebre."}]}
        answer = client.post("/v1/chat/completions", headers=auth, json=body)
        assert answer.status_code == 200, answer.text
        assert "hypertension" in answer.json()["choices"][0]["message"]["content"]
        streamed = client.post("/v1/chat/completions", headers=auth, json={**body, "stream": True})
        assert streamed.status_code == 200 and "hypertension" in streamed.text
