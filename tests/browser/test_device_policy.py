"""The page's device policy in Chromium: a bundle the device cannot hold or store is refused in Spanish
before anything is downloaded, and a device that decodes too slowly is told so; both offer the server.

The device's memory and the browser's storage quota cannot be changed from outside, so an init
script makes ``navigator.deviceMemory`` and ``navigator.storage.estimate()`` answer as a small device
would; everything else (the page, the worker, the server, the bundle) is real. Decode speed is the
tiny model's own, against a threshold moved above it with ``?min_tok_s=``.
"""

from __future__ import annotations

import pytest

from tests.browser.conftest import ARTIFACTS
from tests.browser.test_webapp import enter_key, generate_in_browser, load_example, open_app

pytestmark = pytest.mark.browser
TIMEOUT_MS = 60_000

SMALL_MEMORY = "Object.defineProperty(Navigator.prototype, 'deviceMemory', { get: () => 0.25 });"
SMALL_QUOTA = """(() => {
  const estimate = async () => ({ quota: 50 * 1024 * 1024, usage: 49.5 * 1024 * 1024 });
  Object.defineProperty(StorageManager.prototype, 'estimate', { value: estimate });
})();"""


def graph_requests(page) -> list[str]:
    return [u for u in page.recorded.requests if "/models/" in u and ".onnx" in u]


def choose_browser_and_wait_for_refusal(page) -> str:
    page.check("input[name=engine][value=browser]")
    page.wait_for_selector("body[data-refusal=shown]", state="attached", timeout=TIMEOUT_MS)
    assert page.locator("#engine-refusal").is_visible()
    return page.inner_text("#engine-refusal-text")


def test_a_bundle_the_device_cannot_hold_is_refused_before_download_and_the_server_offered(page, server):
    page.context.add_init_script(SMALL_MEMORY)
    open_app(page, server)
    assert page.evaluate("navigator.deviceMemory") == 0.25
    text = choose_browser_and_wait_for_refusal(page)
    assert text.startswith("Este equipo no tiene memoria suficiente para el modelo ")
    assert "este equipo declara 256 MB de memoria" in text and text.endswith("Redacte en el servidor.")
    assert page.inner_text("#status") == text
    assert graph_requests(page) == []  # refused before any graph was fetched
    assert page.evaluate("document.body.dataset.model") == "failed"  # refused: never "ready"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "device-memory-refused.png"), full_page=True)

    page.click("#use-server-btn")
    assert page.is_checked("input[name=engine][value=server]")
    assert page.locator("#engine-refusal").is_hidden()
    assert page.evaluate("localStorage.getItem('alta.engine')") == "server"
    assert page.recorded.errors == []


def test_storage_quota_is_checked_before_download(page, server):
    page.context.add_init_script(SMALL_QUOTA)
    open_app(page, server)
    text = choose_browser_and_wait_for_refusal(page)
    assert text.startswith("No hay espacio para guardar el modelo en este navegador: la descarga ocupa ")
    assert "quedan 1 MB libres" in text and text.endswith("Libere espacio en el navegador o redacte en el servidor.")
    assert graph_requests(page) == []
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "device-quota-refused.png"), full_page=True)


def test_with_room_the_model_loads_and_no_refusal_is_shown(page, server):
    page.context.add_init_script("Object.defineProperty(Navigator.prototype, 'deviceMemory', { get: () => 8 });")
    open_app(page, server)
    page.check("input[name=engine][value=browser]")
    page.wait_for_selector("body[data-model=ready]", state="attached", timeout=TIMEOUT_MS)
    assert page.locator("#engine-refusal").is_hidden()
    choice = page.evaluate("window.alta.choice")
    assert (choice["device"], choice["dtype"]) == ("wasm", "fp32")  # the device holds fp32: the model itself
    assert graph_requests(page)
    assert page.evaluate("window.alta.model.runtime") == "ort-wasm-simd-threaded"  # the plain build, not asyncify


def test_a_device_too_slow_to_draft_is_told_so_and_offered_the_server(page, server):
    open_app(page, server, "?device=wasm&dtype=fp32&min_tok_s=1000000")
    enter_key(page, server)
    load_example(page, "neumonia_chile")
    page.check("input[name=engine][value=browser]")
    page.wait_for_selector("body[data-model=ready]", state="attached", timeout=TIMEOUT_MS)
    run = generate_in_browser(page)
    assert run["too_slow_tok_s"] > 0 and run["step_ms"] > 0
    page.wait_for_selector("body[data-refusal=shown]", state="attached", timeout=TIMEOUT_MS)
    text = page.inner_text("#engine-refusal-text")
    assert text.startswith("Este equipo es demasiado lento para redactar con el modelo ")
    assert "tokens por segundo y hacen falta al menos 1000000. Redacte en el servidor." in text
    assert text.endswith("El borrador parcial no se guardó.")
    assert page.evaluate("document.body.dataset.document") is None  # nothing was saved
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "device-too-slow.png"), full_page=True)

    page.click("#use-server-btn")
    assert page.is_checked("input[name=engine][value=server]")
