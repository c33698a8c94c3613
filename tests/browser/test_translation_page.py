"""The translation page (#traduccion) in Debian's Chromium against live servers.

Without a translation model (the session's ``server``), the page says a model must be configured
and keeps the text. With one, the only thing faked is the model: :class:`GlossaryModelServer`, a
real OpenAI-compatible HTTP server in a thread, which Alta's vLLM engine calls over HTTP as it
would call ``vllm serve``. Everything else is real: Alta in a subprocess, de-identification, jobs,
the PDF writer, the page, its service worker. After each run the page's storage (localStorage,
sessionStorage, IndexedDB, Cache Storage), its URL and its console are scanned for the planted PHI.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest
from pypdf import PdfReader

from backend.engines.apertium import installed_modes
from tests.browser.conftest import ARTIFACTS, Server, start_server
from tests.browser.test_webapp import TIMEOUT_MS, enter_key, open_app
from tests.support import REPO
from tests.support.translation import (
    NOTE,
    GlossaryModelServer,
    drop_first_placeholder,
    scan_for_phi,
    text_pdf,
)

pytestmark = pytest.mark.browser
SYNC_MAX_CHARS = 300  # NOTE (about 600 characters) becomes a job the page polls; the PDF below does not
URL = "/api/v1/translations"


@pytest.fixture(scope="module")
def model_server() -> Iterator[GlossaryModelServer]:
    with GlossaryModelServer() as model:
        yield model


@pytest.fixture(scope="module")
def translation_server(tmp_path_factory, models_dir: Path, webapp_dist: Path,
                       model_server: GlossaryModelServer) -> Iterator[Server]:
    """Alta whose vLLM engine does translation through ``model_server``; the template writes drafts."""
    running = start_server(tmp_path_factory.mktemp("translation-server"), models_dir, webapp_dist,
                           engines='["vllm", "template"]', extra_env={
                               "ALTA_VLLM_BASE_URLS": json.dumps([model_server.url]),
                               "ALTA_VLLM_MODELS": json.dumps({"translation": GlossaryModelServer.model}),
                               "ALTA_TRANSLATION_SYNC_MAX_CHARS": str(SYNC_MAX_CHARS),
                               "ALTA_TRANSLATION_CHUNK_TOKENS": "40"})
    yield running
    running.live.stop()


@pytest.fixture
def model(model_server: GlossaryModelServer) -> Iterator[GlossaryModelServer]:
    """The model server, sound and answering again after the test."""
    yield model_server
    model_server.mangle = None
    model_server.resume()


# --- driving the page ------------------------------------------------------------------------------

def open_translation(page, server: Server) -> None:
    open_app(page, server, "#traduccion")
    enter_key(page, server)
    assert page.is_visible("#translation") and page.is_hidden("#stay") and page.is_hidden("#generate")
    assert page.title() == "Alta · Traducción"


def translate(page, expected: str) -> None:
    """Click Traducir and wait for the page to reach ``expected``: done, failed, invalid, or waiting (a job)."""
    page.click("#translate-btn")  # the handler marks the page 'sending' before its first await
    page.wait_for_selector(f"body[data-translation={expected}]", state="attached", timeout=TIMEOUT_MS)


def error_for(page, field: str = "") -> str:
    return page.inner_text(f"[data-error-for='{'translation.' + field if field else 'translation'}']")


# --- what the page kept ------------------------------------------------------------------------------

STORAGE = """async (built) => {
    const hex = (buffer) => [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, '0')).join('');
    const request = (r) => new Promise((resolve, reject) => { r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error); });
    const out = { local: JSON.stringify({ ...localStorage }), session: JSON.stringify({ ...sessionStorage }), idb: [], caches: [] };
    for (const { name } of await indexedDB.databases()) {
        const db = await request(indexedDB.open(name));
        for (const store of db.objectStoreNames) {
            out.idb.push(JSON.stringify({ name, store, rows: await request(db.transaction(store).objectStore(store).getAll()) }));
        }
        db.close();
    }
    for (const name of await caches.keys()) {
        const cache = await caches.open(name);
        for (const req of await cache.keys()) {
            const bytes = await (await cache.match(req)).arrayBuffer();
            const sha256 = hex(await crypto.subtle.digest('SHA-256', bytes));
            // The build's own files (the app, ONNX Runtime) are known by their hash; anything else is read.
            const path = new URL(req.url).pathname;
            out.caches.push({ url: req.url, text: built[path] === sha256 ? null : new TextDecoder().decode(bytes) });
        }
    }
    return out;
}"""


def built_files(dist: Path) -> dict[str, str]:
    """The SHA-256 of each file of the build, by the path the service worker caches it under."""
    hashes = {"/" + p.relative_to(dist).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
              for p in dist.rglob("*") if p.is_file()}
    hashes["/"] = hashes["/index.html"]
    return hashes


def assert_no_phi_left(page, server: Server, dist: Path) -> None:
    """No planted PHI in the page's storage, caches, URL or console; no request to another host."""
    kept = page.evaluate(STORAGE, built_files(dist))
    cached_urls = [c["url"] for c in kept["caches"]]
    assert not [u for u in cached_urls if urlparse(u).path.startswith(URL)], cached_urls
    texts = [kept["local"], kept["session"], *kept["idb"], *cached_urls, *(c["text"] for c in kept["caches"] if c["text"])]
    assert scan_for_phi(*texts) == []
    assert scan_for_phi(page.url, *page.recorded.console) == []
    assert urlparse(page.url).fragment == "traduccion"
    foreign = [u for u in page.recorded.requests if not u.startswith(server.url + "/") and not u.startswith(("blob:", "data:"))]
    assert foreign == [], foreign


def unexpected_errors(page, *allowed: str) -> list[str]:
    """Console errors other than Chromium's line for each refused request the test provoked."""
    return [e for e in page.recorded.errors
            if not (e.startswith("Failed to load resource:") and any(a in e for a in allowed))]


# --- without a translation model -----------------------------------------------------------------

def test_without_an_engine_the_page_says_so_in_spanish_and_keeps_the_text(page, server, webapp_dist):
    open_translation(page, server)

    # Nothing to translate: said next to the box, nothing sent.
    translate(page, "invalid")
    assert "Pegue el texto" in error_for(page, "text")
    assert page.get_attribute("#translation-text", "aria-invalid") == "true"
    assert not [u for u in page.recorded.requests if URL in u]

    page.fill("#translation-text", NOTE)
    page.select_option("#translation-variant", "es-CL")
    translate(page, "failed")
    message = error_for(page)
    assert "no tiene ningún motor de traducción disponible" in message and "administrador" in message
    # Spanish only: the server's English remedy (packages, settings, commands) is for its log, not this page.
    assert "Detalle del servidor" not in message and "ALTA_" not in message and "python" not in message
    assert page.input_value("#translation-text") == NOTE  # never lost
    assert page.is_hidden("#translation-output") and error_for(page, "text") == ""
    assert (f"{server.url}{URL}", 503) in page.recorded.posts

    # Offline: translation needs the server; the text stays.
    page.context.set_offline(True)
    translate(page, "failed")
    assert "necesita la red" in error_for(page) and "El texto sigue aquí" in error_for(page)
    assert page.input_value("#translation-text") == NOTE
    assert "Sin conexión" in page.inner_text("#status")
    page.context.set_offline(False)

    # A file that is not a PDF: the server's 422 is shown next to the file input (before any engine is asked).
    page.check("input[name=translation-source][value=pdf]")
    assert page.is_hidden("#translation-text-box") and page.is_visible("#translation-file")
    translate(page, "invalid")
    assert "Elija un archivo PDF" in error_for(page, "file")
    page.set_input_files("#translation-file", files=[{"name": "nota.pdf", "mimeType": "application/pdf",
                                                      "buffer": b"Paciente Marcela Soto Aravena"}])
    translate(page, "failed")
    assert "no es un PDF que el servidor pueda leer" in error_for(page, "file") and error_for(page) == ""
    assert page.get_attribute("#translation-file", "aria-invalid") == "true"
    page.check("input[name=translation-source][value=text]")
    assert page.input_value("#translation-text") == NOTE

    assert unexpected_errors(page, "503", "422", "net::ERR_INTERNET_DISCONNECTED") == []
    assert_no_phi_left(page, server, webapp_dist)
    assert scan_for_phi(server.live.log.read_text()) == []


# --- with a translation model behind Alta's vLLM engine -------------------------------------------------

def test_a_pasted_note_is_a_job_with_progress_then_english_and_a_pdf(page, translation_server, model, webapp_dist):
    open_translation(page, translation_server)
    page.fill("#translation-text", NOTE)
    page.select_option("#translation-variant", "es-CL")
    model.pause_after(2)  # the job stops after two chunks, until the page has shown them
    translate(page, "waiting")
    page.wait_for_selector("#translation-progress-text:has-text('Traduciendo: 2 de')", timeout=TIMEOUT_MS)
    assert page.get_attribute("#translation-progress-bar", "value") == "2"
    assert page.is_disabled("#translate-btn") and page.is_hidden("#translation-output")
    model.resume()
    page.wait_for_selector("body[data-translation=done]", state="attached", timeout=TIMEOUT_MS)
    assert page.is_hidden("#translation-progress") and page.is_enabled("#translate-btn")

    english = page.input_value("#translation-result")
    assert english.startswith("DISCHARGE SUMMARY\n\nName: Marcela Soto Aravena.\n")  # the planted name, restored
    assert "12.345.678-5" in english and "+56 9 8765 4321" in english and "acetaminophen" in english
    assert page.get_attribute("#translation-result", "readonly") is not None
    # the version is the adapter vLLM's /v1/models names: a job asks the engine's health first too
    assert page.inner_text("#translation-meta") == f"Traducido por vllm (translation {GlossaryModelServer.root})"
    assert page.is_hidden("#translation-rule-based")  # a model's translation carries no rule-based notice
    assert page.inner_text("#translation-accuracy").replace("\xa0", " ") == "100 %"
    assert page.inner_text("#translation-source-info").startswith("Texto pegado")
    assert page.input_value("#translation-text") == NOTE
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "webapp-translation.png"), full_page=True)

    state = page.evaluate("window.alta.translation")
    done, total = state["progress"][-1]
    assert done == total > 2 and [2, total] in state["progress"]
    job = httpx.get(f"{translation_server.url}{URL}/{state['id']}", timeout=30,
                    headers={"Authorization": f"Bearer {translation_server.key}"}).json()
    assert (job["source"]["variant"], job["text"]) == ("es-CL", english)
    assert [status for url, status in page.recorded.posts if url.endswith(URL)] == [202]

    page.click("#translation-copy")  # to the clipboard, or selected for Ctrl+C where the browser refuses
    page.wait_for_selector("#translation-copied:text-matches('Copiada|seleccionado')", timeout=TIMEOUT_MS)

    with page.expect_download(timeout=TIMEOUT_MS) as download:
        page.click("#translation-pdf")
    assert download.value.suggested_filename == f"translation-{state['id']}.pdf"
    pdf = Path(download.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF")
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "Marcela Soto Aravena" in text and "DISCHARGE SUMMARY" in text and "acetaminophen" in text

    assert page.recorded.errors == []
    assert_no_phi_left(page, translation_server, webapp_dist)
    assert scan_for_phi(json.dumps(model.prompts, ensure_ascii=False)) == []  # the model saw placeholders only
    assert scan_for_phi(translation_server.live.log.read_text()) == []


def test_a_pdf_with_a_text_layer_goes_through(page, translation_server, model, webapp_dist):
    pdf = text_pdf([[("h", "EPICRISIS"), ("p", "Nombre: Marcela Soto Aravena."),
                     ("p", "Paciente de 67 años con HTA. Se indica paracetamol 1 g cada 8 horas.")],
                    [("h", "INDICACIONES"), ("p", "Control en CESFAM en 7 días.")]])
    open_translation(page, translation_server)
    page.check("input[name=translation-source][value=pdf]")
    page.set_input_files("#translation-file", files=[{"name": "epicrisis.pdf", "mimeType": "application/pdf", "buffer": pdf}])
    page.select_option("#translation-variant", "es-MX")
    translate(page, "done")

    english = page.input_value("#translation-result")
    assert english.startswith("DISCHARGE SUMMARY") and "Marcela Soto Aravena" in english
    assert "acetaminophen" in english and "INSTRUCTIONS" in english
    assert page.inner_text("#translation-source-info").startswith("PDF de 2 páginas")
    assert page.inner_text("#translation-meta") == f"Traducido por vllm (translation {GlossaryModelServer.root})"
    assert [status for url, status in page.recorded.posts if url.endswith(URL)] == [201]  # answered at once

    with page.expect_download(timeout=TIMEOUT_MS) as download:
        page.click("#translation-pdf")
    pages = [p.extract_text() for p in PdfReader(io.BytesIO(Path(download.value.path()).read_bytes())).pages]
    assert len(pages) == 2 and "Marcela Soto Aravena" in pages[0] and "INSTRUCTIONS" in pages[1]

    # The epicrisis tab and back: one page, so the translation is still on screen (in memory only).
    page.click("#nav-epicrisis")
    page.wait_for_selector("body[data-view=epicrisis]", state="attached")  # hashchange comes after the click
    assert page.is_visible("#stay") and page.is_hidden("#translation") and page.title() == "Alta · Epicrisis"
    page.click("#nav-traduccion")
    page.wait_for_selector("body[data-view=traduccion]", state="attached")
    assert page.is_hidden("#stay") and page.input_value("#translation-result") == english

    assert page.recorded.errors == []
    assert_no_phi_left(page, translation_server, webapp_dist)


def test_a_model_that_loses_placeholders_returns_nothing_and_the_page_says_why(page, translation_server, model,
                                                                               webapp_dist):
    model.mangle = drop_first_placeholder
    open_translation(page, translation_server)
    short = "Nombre: Marcela Soto Aravena.\n\nPaciente con tos y fiebre desde ayer."
    page.fill("#translation-text", short)
    translate(page, "failed")  # answered at once: a 502
    assert "no conservó los marcadores que protegen los datos del paciente" in error_for(page)
    assert "no se devolvió ninguna traducción" in error_for(page)
    assert page.is_hidden("#translation-output") and page.input_value("#translation-result") == ""
    assert page.input_value("#translation-text") == short

    long = short + "\n\n" + "Evoluciona afebril desde el tercer día, con buena tolerancia oral. " * 5
    page.fill("#translation-text", long)
    translate(page, "failed")  # a job that fails in the background: the same message
    assert "no conservó los marcadores" in error_for(page)
    assert page.input_value("#translation-text") == long
    assert [status for url, status in page.recorded.posts if url.endswith(URL)] == [502, 202]

    assert unexpected_errors(page, "502") == []
    assert_no_phi_left(page, translation_server, webapp_dist)


def test_the_pages_spanish_messages_cover_the_routes_422s(translation_server):
    """Real 422 bodies of the live route, mapped by the page's own translationErrors (run in Node)."""
    auth = {"Authorization": f"Bearer {translation_server.key}"}
    cases = [({"json": {"text": ""}}, "text"), ({"json": {"text": "  \n "}}, "text"), ({"json": {"texto": "hola"}}, "text"),
             ({"json": {"text": "hola", "source_variant": "es-AR"}}, "source_variant"),
             ({"files": {"file": ("nota.txt", b"hola", "text/plain")}}, "file"),
             ({"files": {"other": ("a.pdf", b"%PDF-1.4", "application/pdf")}}, "file"),
             ({"files": {"file": ("a.pdf", text_pdf([[("p", "hola")]]), "application/pdf")},
               "data": {"source_variant": "x"}}, "source_variant")]
    bodies = []
    for kwargs, _field in cases:
        answer = httpx.post(f"{translation_server.url}{URL}", headers=auth, timeout=30, **kwargs)
        assert answer.status_code == 422, answer.text
        bodies.append(answer.json())
    script = ("import { ApiError } from './webapp/src/api.js';"
              "import { translationErrors } from './webapp/src/translation_errors.js';"
              "const bodies = JSON.parse(process.argv[1]);"
              "console.log(JSON.stringify(bodies.map((b) => translationErrors(new ApiError(422, b)))));")
    out = subprocess.run(["node", "--input-type=module", "-e", script, json.dumps(bodies)], cwd=REPO,
                         capture_output=True, text=True, check=True, timeout=60)
    for (_kwargs, field), errors in zip(cases, json.loads(out.stdout), strict=True):
        assert field in [e["field"] for e in errors], errors
        assert all(e["message"] != "Valor no válido." for e in errors), errors  # every type has Spanish



# --- with no model: Apertium, the rule-based floor ---------------------------------------------------

needs_apertium = pytest.mark.skipif("spa-eng" not in installed_modes(),
                                    reason="apertium spa-eng is not installed (scripts/system-deps.sh test)")


@pytest.fixture(scope="module")
def apertium_server(tmp_path_factory, models_dir: Path, webapp_dist: Path) -> Iterator[Server]:
    """Alta as a fresh machine has it: no translation model, Apertium last in the engine order."""
    running = start_server(tmp_path_factory.mktemp("apertium-server"), models_dir, webapp_dist,
                           engines='["template", "apertium"]')
    yield running
    running.live.stop()


@needs_apertium
def test_an_apertium_translation_is_marked_rule_based_in_spanish(page, apertium_server, webapp_dist):
    open_translation(page, apertium_server)
    page.fill("#translation-text", NOTE)
    translate(page, "done")
    english = page.input_value("#translation-result")
    assert "Marcela Soto Aravena" in english and "acetaminophen" in english and "hypertension" in english
    assert "apertium" in page.inner_text("#translation-meta")
    assert "basada en reglas" in page.inner_text("#translation-meta")
    notice = page.inner_text("#translation-rule-based")
    assert page.is_visible("#translation-rule-based")
    assert "Traducción automática basada en reglas" in notice and "Revísela con especial cuidado" in notice
    assert page.recorded.errors == []
    assert_no_phi_left(page, apertium_server, webapp_dist)
    assert scan_for_phi(apertium_server.live.log.read_text()) == []
