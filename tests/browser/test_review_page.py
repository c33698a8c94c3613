"""The page's review against the record, in Debian's Chromium, with the shipped demo bundle.

The demo bundle (models/demo-onnx) writes another patient's identity for the example records
(greedy, so always the same one): a real source of the drafts the review must catch. A short
max-new-tokens keeps each run to a few seconds while still covering the identification section.
Page state is read through DOM attributes (the page's CSP forbids eval; see test_webapp.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.conftest import ARTIFACTS, Server, start_server
from tests.browser.test_webapp import (
    TIMEOUT_MS,
    api,
    enter_key,
    generate_in_browser,
    load_example,
    open_app,
    use_browser_engine,
    wait_until,
)
from tests.support import REPO

pytestmark = pytest.mark.browser
DEMO_MAX_NEW_TOKENS = 96  # the demo writes IDENTIFICACIÓN (name, age, sex, identifier) in its first ~70 tokens
EXAMPLE = json.loads((REPO / "clinical/examples/neumonia_chile.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory, webapp_dist: Path) -> Iterator[Server]:
    """The shipped catalog (demo bundle) behind the default chain: ONNX first, the template after it."""
    running = start_server(tmp_path_factory.mktemp("review-server"), REPO / "models", webapp_dist,
                           engines='["onnx", "template"]',
                           extra_env={"ALTA_ONNX_MAX_NEW_TOKENS": str(DEMO_MAX_NEW_TOKENS)})
    yield running
    running.live.stop()


def test_a_wrong_identity_from_the_browser_model_is_flagged_and_needs_acknowledging(page, demo_server):
    server = demo_server
    # The page holds browser drafts to the record's grammar (issue 13); without it the demo model
    # writes another person, which the server's review must flag when the draft is saved.
    open_app(page, server, "?grammar=off")
    enter_key(page, server)
    load_example(page, "neumonia_chile")
    use_browser_engine(page)
    run = generate_in_browser(page)
    assert run["aborted"] is False and run["grammar"] is False and EXAMPLE["patient"]["name"] not in run["text"]

    # Stored and reviewed by the server: the identity finding is shown, with the server's message.
    page.wait_for_selector("body[data-review=findings]", state="attached", timeout=TIMEOUT_MS)
    assert page.locator("#review-badge").is_hidden()
    assert page.locator("#demo-mark").is_visible()
    assert "Revisión frente al registro" in page.inner_text("#checks-title")
    summary = page.inner_text("#checks-summary")
    assert "hallazgo" in summary and "recoge el registro" not in summary
    identity = page.locator("#checks-list .finding-item[data-kind=identity]")
    assert identity.count() >= 1
    assert "Identificación del paciente" in page.text_content("#checks-list")
    assert "de los datos del texto tienen fuente en el registro" in page.inner_text("#checks-attribution")

    # Selecting the flagged name shows the record's field and value beside it.
    page.click("#draft-view mark.finding[data-kind=identity]")
    source = page.inner_text("#fact-source")
    assert "Paciente ›" in source and "Valor en el registro" in source
    assert page.locator("#draft-view mark.fact.traced").count() >= 1  # traced facts are marked too

    # Header and body would name different people: no printing, said in Spanish, banner for print.
    assert page.is_disabled("#print-btn")
    assert "identificación" in page.inner_text("#print-note")
    assert page.get_attribute("#print-banner", "hidden") is None

    # Signing without acknowledging the findings is refused, with the reason; then it signs cleanly.
    doc_id = page.evaluate("document.body.dataset.document")
    page.fill("#sign-password", server.password)
    page.click("#sign-btn")
    page.wait_for_selector("#draft-error:has-text('Revisé los hallazgos')", timeout=TIMEOUT_MS)
    assert api(server, "GET", f"/api/v1/documents/{doc_id}").json()["status"] == "draft"
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#draft").screenshot(path=str(ARTIFACTS / "review-identity-finding.png"))
    page.check("#ack")
    page.click("#sign-btn")
    page.wait_for_selector("body[data-doc-status=signed]", state="attached", timeout=TIMEOUT_MS)
    assert page.inner_text("#draft-error") == ""  # no stale error after the signature
    stored = api(server, "GET", f"/api/v1/documents/{doc_id}").json()
    assert stored["status"] == "signed" and stored["provenance"]["demo"] is True
    assert any(f["kind"] == "identity" for f in stored["checks"]["findings"])
    assert [e for e in page.recorded.errors if "409 (Conflict)" not in e] == []


def test_by_default_the_browser_model_is_held_to_the_record_grammar(page, demo_server):
    """Issue 13 on the page: the browser draft is written under the record's grammar from the server,
    so the demo model names the right patient; the server still reviews what it stores."""
    server = demo_server
    open_app(page, server)
    enter_key(page, server)
    load_example(page, "neumonia_chile")
    use_browser_engine(page)
    run = generate_in_browser(page)
    assert run["grammar"] is True and run["constrained"] is True and run["aborted"] is False
    assert run["text"].startswith(f"IDENTIFICACIÓN\nNombre: {EXAMPLE['patient']['name']}\n")
    page.wait_for_selector("body[data-document]", state="attached", timeout=TIMEOUT_MS)
    doc_id = page.evaluate("document.body.dataset.document")
    stored = api(server, "GET", f"/api/v1/documents/{doc_id}").json()
    assert stored["text"] == run["text"] and stored["provenance"]["engine"] == "transformers.js"
    assert stored["checks"]["reviewed"] is True
    assert not [f for f in stored["checks"]["findings"] if f["kind"] == "identity"]


def test_an_offline_draft_is_unreviewed_until_the_server_has_checked_it(page, demo_server):
    server = demo_server
    open_app(page, server)
    enter_key(page, server)
    use_browser_engine(page)  # cached by the service worker for the offline visit

    page.context.set_offline(True)
    page.reload()
    page.wait_for_selector("body[data-ready=true]", state="attached", timeout=TIMEOUT_MS)
    page.wait_for_selector("body[data-model=ready]", state="attached", timeout=TIMEOUT_MS)
    load_example(page, "colecistitis_mexico")
    generate_in_browser(page)
    page.wait_for_selector("#outbox[data-waiting='1']", state="attached", timeout=TIMEOUT_MS)
    assert page.evaluate("document.body.dataset.review") == "pending"
    assert page.locator("#review-badge").is_visible() and page.inner_text("#review-badge") == "Sin revisar"
    assert page.inner_text("#checks-summary").startswith("Sin revisar")
    assert "Sin revisar" in page.inner_text("#outbox")
    assert page.locator("#demo-mark").is_visible()  # the catalog's word, before the server has the draft
    assert page.locator("#sign-btn").is_hidden() and page.locator("#edit-btn").is_hidden()
    assert page.is_disabled("#print-btn") and "revisado" in page.inner_text("#print-note")
    assert page.locator("#checks-list .finding-item").count() == 0
    assert page.evaluate("document.body.dataset.document") is None
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#draft").screenshot(path=str(ARTIFACTS / "review-offline-unreviewed.png"))

    page.context.set_offline(False)
    page.wait_for_selector("#outbox[data-waiting='0']", state="attached", timeout=TIMEOUT_MS)
    page.wait_for_selector("body[data-document]", state="attached", timeout=TIMEOUT_MS)
    doc_id = page.evaluate("document.body.dataset.document")
    stored = wait_until(lambda: (r := api(server, "GET", f"/api/v1/documents/{doc_id}")).status_code == 200 and r.json())
    # The server's checks are on screen now, and the draft is no longer marked unreviewed.
    assert page.evaluate("document.body.dataset.review") == ("ok" if stored["checks"]["ok"] else "findings")
    assert page.locator("#review-badge").is_hidden()
    assert page.locator("#checks-list .finding-item").count() == len(stored["checks"]["findings"]) > 0
    assert page.locator("#sign-btn").is_visible()
    assert [e for e in page.recorded.errors if not e.startswith("Failed to load resource: net::")] == []
    # The draft left this computer once the server had it; the patient never reached storage, console or URL.
    name = json.loads((REPO / "clinical/examples/colecistitis_mexico.json").read_text(encoding="utf-8"))["patient"]["name"]
    storage = page.evaluate("JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage })")
    assert name not in storage and name not in page.url
    assert not any(name in line for line in page.recorded.console)


def test_a_streamed_model_draft_that_fails_the_review_is_replaced_and_the_page_says_why(page, demo_server):
    server = demo_server
    open_app(page, server)
    enter_key(page, server)
    load_example(page, "neumonia_chile")
    page.check("input[name=engine][value=server]")
    page.evaluate("window.scrollTo(0, 0)")
    page.click("#generate-btn")
    page.wait_for_selector("body[data-doc-status=draft]", state="attached", timeout=TIMEOUT_MS)
    events = page.evaluate("window.alta.streamEvents")
    assert "review" in events and "replaced" in events and events[-1] == "done"
    notice = page.inner_text("#draft-notice")
    assert page.locator("#draft-notice").is_visible()
    assert "Se descartó el borrador del motor «onnx»" in notice and "«template»" in notice
    assert "no pasó la revisión frente al registro" in notice
    assert EXAMPLE["patient"]["name"] in page.inner_text("#draft-view")
    assert page.locator("#demo-mark").is_hidden()  # the template wrote the text shown
    doc_id = page.evaluate("document.body.dataset.document")
    stored = api(server, "GET", f"/api/v1/documents/{doc_id}").json()
    assert stored["provenance"]["engine"] == "template"
    assert "onnx" in [f["engine"] for f in stored["provenance"]["fallbacks"]]
    assert page.inner_text("#draft-view") == stored["text"]
    # The draft was scrolled to the top of the window when it started being written.
    top = page.evaluate("document.getElementById('draft').getBoundingClientRect().top")
    assert abs(top) <= 2, top
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "review-replaced.png"))
    assert page.recorded.errors == []
