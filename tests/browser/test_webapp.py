"""The clinician page in Debian's Chromium against a live server with a tiny real bundle.

Page state is read through DOM attributes and ``window.alta`` with ``page.evaluate`` (which runs over
the DevTools protocol): the page's CSP forbids eval, so Playwright's wait_for_function cannot be used.
"""

from __future__ import annotations

import json
import re
import time

import httpx
import pytest

from backend.engines.bundle import open_bundle
from backend.engines.onnx import OnnxEngine
from tests.browser.conftest import ARTIFACTS, MAX_NEW_TOKENS, sign_in

pytestmark = pytest.mark.browser
TIMEOUT_MS = 60_000


def open_app(page, server, query: str = "") -> None:
    page.goto(f"{server.url}/{query}")
    page.wait_for_selector("body[data-ready=true]", state="attached", timeout=TIMEOUT_MS)
    # The service worker is active and controls the page: what loads from now on is cached.
    page.wait_for_selector("body[data-offline-ready=true]", state="attached", timeout=TIMEOUT_MS)
    wait_until(lambda: page.evaluate("navigator.serviceWorker.controller !== null"))


def enter_key(page, server) -> None:
    """Signs the page in as the médico (the page asks for no API key any more; the name stays for the callers)."""
    sign_in(page, server)


def load_example(page, name: str = "neumonia_chile") -> None:
    page.select_option("#example", name)
    page.click("#load-example")


def use_browser_engine(page) -> None:
    page.check("input[name=engine][value=browser]")
    page.wait_for_selector("body[data-model=ready]", state="attached", timeout=TIMEOUT_MS)


def generate_in_browser(page) -> dict:
    runs = int(page.evaluate("document.body.dataset.runs ?? '0'"))
    page.click("#generate-btn")
    page.wait_for_selector(f"body[data-runs='{runs + 1}']", state="attached", timeout=TIMEOUT_MS)
    return page.evaluate("window.alta.lastRun")


def api(server, method: str, path: str, **kwargs) -> httpx.Response:
    return httpx.request(method, server.url + path, headers={"Authorization": f"Bearer {server.key}"},
                         timeout=30, **kwargs)


def wait_until(predicate, timeout_s: float = 30.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def test_page_loads_clean_isolated_and_talks_only_to_its_server(page, server):
    open_app(page, server)
    enter_key(page, server)
    load_example(page)
    assert page.evaluate("crossOriginIsolated") is True  # multi-threaded WASM is possible
    assert page.evaluate("navigator.serviceWorker.controller !== null") is True
    assert "bundle" in page.inner_text("#model-info")  # the catalog's name, read from the server
    assert page.input_value("[data-path='diagnoses.0.code']") == "J18.9"
    assert page.recorded.errors == []
    foreign = [u for u in page.recorded.requests if not u.startswith(server.url + "/") and not u.startswith(("blob:", "data:"))]
    assert foreign == [], foreign
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "webapp-main.png"), full_page=True)
    assert (ARTIFACTS / "webapp-main.png").stat().st_size > 10_000


@pytest.mark.parametrize("dtype", ["fp32", "q4"])
def test_browser_greedy_tokens_equal_the_python_onnx_engine(page, server, tiny_bundle_dir, dtype):
    open_app(page, server, f"?device=wasm&dtype={dtype}")
    enter_key(page, server)
    load_example(page, "neumonia_chile")
    use_browser_engine(page)
    run = generate_in_browser(page)
    assert (run["dtype"], run["device"], run["aborted"]) == (dtype, "wasm", False)

    manifest = json.loads((tiny_bundle_dir / "manifest.json").read_text(encoding="utf-8"))
    golden = next(g for g in manifest["contract"]["golden"] if g["name"] == "neumonia_chile")
    assert run["prompt_ids"] == golden["prompt_token_ids"]  # same prompt text, same tokenizer
    # The page asked the server for the record's grammar and held the draft to it (issue 13): the
    # Python engine under the same grammar gives the same tokens.
    assert run["grammar"] is True and run["constrained"] is True
    from clinical.contract import example_records
    from clinical.record import HospitalStay

    stay = HospitalStay.model_validate(example_records()["neumonia_chile"])
    engine = OnnxEngine(open_bundle(tiny_bundle_dir, dtype), constrain=True, jump_forward=False)
    expected = engine.generate_ids(run["prompt_ids"], max_new_tokens=MAX_NEW_TOKENS,
                                   constraint=engine.constraints.for_stay(stay))
    assert run["token_ids"] == expected
    assert len(expected) > 0

    # The draft reached the server with its browser provenance and the server's output checks.
    page.wait_for_selector("body[data-document]", state="attached", timeout=TIMEOUT_MS)
    doc_id = page.evaluate("document.body.dataset.document")
    stored = api(server, "GET", f"/api/v1/documents/{doc_id}").json()
    assert stored["provenance"]["engine"] == "transformers.js"
    assert stored["provenance"]["model"] == manifest["name"]
    assert stored["provenance"]["model_version"] == f"{manifest['version']}-{dtype}"
    assert stored["text"] == run["text"]
    assert "findings" in stored["checks"]


def test_stop_ends_a_browser_draft_early(page, server):
    open_app(page, server, "?device=wasm&dtype=fp32")
    load_example(page, "minimo")
    use_browser_engine(page)
    result = page.evaluate("""async () => {
        const engine = window.alta.engine;
        let tokens = 0;
        const run = engine.generate('<|im_start|>user\\nhola<|im_end|>\\n<|im_start|>assistant\\n',
            { maxNewTokens: 3000, stopAtEos: false, onToken: () => { if (++tokens === 3) engine.abort(); } });
        return await run;
    }""")
    assert result["aborted"] is True
    assert 0 < len(result["token_ids"]) < 3000


def test_server_draft_streams_then_checks_edit_save_reload_sign(page, server):
    open_app(page, server)
    enter_key(page, server)
    load_example(page, "neumonia_chile")
    page.check("input[name=engine][value=server]")
    page.click("#generate-btn")
    page.wait_for_selector("body[data-doc-status=draft]", state="attached", timeout=TIMEOUT_MS)
    assert page.evaluate("window.alta.serverChunks") > 3  # written section by section, as it streamed
    assert "DIAGNÓSTICOS DE EGRESO" in page.inner_text("#draft-view")
    assert "Sin hallazgos" in page.inner_text("#checks-summary")
    doc_id = page.evaluate("document.body.dataset.document")

    # A clinician deletes a diagnosis: the checks list it as missing.
    page.click("#edit-btn")
    text = page.input_value("#draft-edit")
    planted = re.sub(r"^3\. Hipertensión arterial esencial \(CIE-10: I10\)\n", "", text, flags=re.M)
    assert planted != text
    page.fill("#draft-edit", planted)
    page.click("#save-btn")  # the signed-in user is the edit's author
    page.wait_for_selector("body[data-version='2']", state="attached", timeout=TIMEOUT_MS)
    findings = page.inner_text("#checks-list")
    assert "Hipertensión arterial esencial" in findings  # the record's diagnosis, under the server's message

    # Reload: the document comes back from the server, at its new version, with its finding.
    page.reload()
    page.wait_for_selector("body[data-version='2']", state="attached", timeout=TIMEOUT_MS)
    assert "Hipertensión arterial esencial" in page.inner_text("#checks-list")
    assert page.locator("#versions li").count() == 2

    # Signing a text with findings needs the acknowledgement; then the document is locked. The password
    # entered for the first try stays good for the second (a few minutes).
    page.fill("#sign-password", server.password)
    page.click("#sign-btn")
    page.wait_for_selector("#draft-error:has-text('Revisé los hallazgos')", timeout=TIMEOUT_MS)
    assert api(server, "GET", f"/api/v1/documents/{doc_id}").json()["status"] == "draft"
    page.check("#ack")
    page.click("#sign-btn")
    page.wait_for_selector("body[data-doc-status=signed]", state="attached", timeout=TIMEOUT_MS)
    assert page.locator("#edit-btn").is_hidden() and page.locator("#sign-btn").is_hidden()
    stored = api(server, "GET", f"/api/v1/documents/{doc_id}").json()
    assert (stored["status"], stored["signed_by"], stored["version"]) == ("signed", "Dra. Pérez", 2)
    # Chromium logs the refused signature (409) as a failed resource; nothing else went wrong.
    assert [e for e in page.recorded.errors if "409 (Conflict)" not in e] == []


def test_validation_messages_appear_next_to_fields_before_anything_is_sent(page, server):
    open_app(page, server)
    enter_key(page, server)
    load_example(page, "neumonia_chile")
    page.fill("[data-path='diagnoses.1.code']", "diabetes")
    page.fill("[data-path='discharge.discharged_on']", "2026-01-05")  # before admission (2026-01-10)
    page.fill("[data-path='patient.identifiers.0.value']", "7.654.321-5")  # wrong check digit
    page.click("#generate-btn")
    assert "CIE-10 no válido" in page.inner_text("[data-error-for='diagnoses.1.code']")
    assert page.get_attribute("[data-path='diagnoses.1.code']", "aria-invalid") == "true"
    assert "dígito verificador del RUT" in page.inner_text("[data-error-for='patient.identifiers.0.value']")
    assert "Corrija" in page.inner_text("#status")
    assert not any("/api/v1/epicrisis" in u for u in page.recorded.requests)

    # Once the field-level errors are fixed, the cross-field rule speaks.
    page.fill("[data-path='diagnoses.1.code']", "E119")
    page.fill("[data-path='patient.identifiers.0.value']", "7.654.321-6")
    page.click("#generate-btn")
    assert "El alta es anterior al ingreso" in page.inner_text("[data-error-for='discharge.discharged_on']")
    assert not any("/api/v1/epicrisis" in u for u in page.recorded.requests)

    # Pasted JSON with a misspelt key is refused, naming the key.
    page.click("#toggle-json")
    page.fill("#json-input", json.dumps({"patient": {"nombre": "X"}}))
    page.click("#json-apply")
    assert "patient.nombre" in page.inner_text("#json-error")


def test_offline_draft_waits_in_indexeddb_and_reaches_the_server_once(page, server):
    # First visit, online: the service worker installs, the model downloads (and is cached).
    open_app(page, server, "?device=wasm&dtype=fp32")
    enter_key(page, server)
    use_browser_engine(page)
    before = api(server, "GET", "/api/v1/documents", params={"limit": 200}).json()["total"]

    page.context.set_offline(True)
    page.reload()
    page.wait_for_selector("body[data-ready=true]", state="attached", timeout=TIMEOUT_MS)
    page.wait_for_selector("body[data-model=ready]", state="attached", timeout=TIMEOUT_MS)
    load_example(page, "colecistitis_mexico")
    run = generate_in_browser(page)
    assert run["aborted"] is False and run["token_ids"]
    page.wait_for_selector("#outbox[data-waiting='1']", state="attached", timeout=TIMEOUT_MS)
    waiting = page.evaluate("""() => new Promise((resolve, reject) => {
        const open = indexedDB.open('alta');
        open.onsuccess = () => {
            const all = open.result.transaction('outbox').objectStore('outbox').getAll();
            all.onsuccess = () => resolve(all.result.map((d) => ({ id: d.id, engine: d.provenance.engine, text: d.text })));
            all.onerror = () => reject(all.error);
        };
        open.onerror = () => reject(open.error);
    })""")
    assert len(waiting) == 1 and waiting[0]["engine"] == "transformers.js" and waiting[0]["text"] == run["text"]
    assert api(server, "GET", "/api/v1/documents", params={"limit": 200}).json()["total"] == before

    page.context.set_offline(False)
    page.wait_for_selector("#outbox[data-waiting='0']", state="attached", timeout=TIMEOUT_MS)
    draft_id = waiting[0]["id"]
    stored = wait_until(lambda: (r := api(server, "GET", f"/api/v1/documents/{draft_id}")).status_code == 200 and r.json())
    assert stored["text"] == run["text"] and stored["provenance"]["engine"] == "transformers.js"

    # Another visit syncs again: nothing is sent twice, nothing is left behind.
    page.reload()
    page.wait_for_selector("body[data-ready=true]", state="attached", timeout=TIMEOUT_MS)
    assert api(server, "GET", "/api/v1/documents", params={"limit": 200}).json()["total"] == before + 1
    sent = [status for url, status in page.recorded.posts if url == f"{server.url}/api/v1/documents"]
    assert [s for s in sent if s in (200, 201)] == [201]
    # Offline, Chromium logs the refused sends as failed resources; nothing else may fail.
    assert [e for e in page.recorded.errors if not e.startswith("Failed to load resource: net::")] == []


def test_browser_greedy_tokens_under_the_record_grammar_equal_python(page, server, tiny_bundle_dir):
    """Issue 13: the record's grammar (the golden file the server would send) in the worker's logits
    processor gives the tokens the Python engine gives under the same grammar, token by token."""
    from clinical.contract import GOLDEN_TODAY
    from clinical.record import HospitalStay
    from tests.support import REPO

    open_app(page, server, "?device=wasm&dtype=fp32")
    use_browser_engine(page)
    vector = next(v for v in json.loads((REPO / "models/contract/golden.json").read_text(encoding="utf-8"))
                  if v["name"] == "neumonia_chile")
    grammar = (REPO / "models/contract/grammars/neumonia_chile.ebnf").read_text(encoding="utf-8")
    new_tokens = 160
    run = page.evaluate("""async ([prompt, grammar, n]) =>
        await window.alta.engine.generate(prompt, { maxNewTokens: n, grammar })""",
                        [vector["prompt"], grammar, new_tokens])
    assert run["constrained"] is True and run["aborted"] is False

    stay = HospitalStay.model_validate(vector["record"], context={"today": GOLDEN_TODAY})
    engine = OnnxEngine(open_bundle(tiny_bundle_dir, "fp32"), constrain=True, jump_forward=False)
    expected = engine.generate_ids(run["prompt_ids"], max_new_tokens=new_tokens,
                                   constraint=engine.constraints.for_stay(stay))
    assert run["token_ids"] == expected
    assert run["text"].startswith("IDENTIFICACIÓN\nNombre: María Elena Soto Pérez\n")  # a random model, held
    decode_ms = run["total_ms"] - run["grammar_compile_ms"]
    share = run["mask_ms"] / decode_ms
    print(f"chromium wasm, tiny bundle fp32: {len(expected)} tokens in {decode_ms:.0f} ms, masks {run['mask_ms']:.0f} ms "
          f"({share:.1%}), grammar compiled in {run['grammar_compile_ms']:.0f} ms")
    assert share < 0.5
