"""Browser fixtures: the built webapp, a tiny real bundle in a models dir, a live server, Debian's Chromium.

The server, the users and the webapp build are ``devtools.browser``'s (the benchmarks use them too).
The webapp is built here when webapp/dist is missing or older than its sources (``make test`` builds
it first, so this is the fallback for a plain ``pytest``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from devtools import export_testing as testing
from devtools.browser import (  # noqa: F401  (re-exported: the browser tests import them from here)
    CHROMIUM,
    CHROMIUM_ARGS,
    MAX_NEW_TOKENS,
    PASSWORDS,
    USERS,
    Server,
    WebappBuildError,
    build_webapp,
    create_users,
    start_server,
)
from tests.support import REPO

ARTIFACTS = REPO / "test-artifacts"


@pytest.fixture(scope="session")
def webapp_dist() -> Path:
    try:
        return build_webapp()
    except WebappBuildError as exc:
        pytest.fail(f"the browser tests need the built webapp: {exc}")


@pytest.fixture(scope="session")
def tiny_bundle_dir() -> Path:
    """The tiny Qwen2 exported through the real path (shared with the export and engine tests)."""
    return testing.tiny_bundle().out


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory, tiny_bundle_dir: Path) -> Path:
    """A models dir whose catalog names the tiny bundle; nothing here knows the bundle's name."""
    return testing.catalog_dir(tmp_path_factory.mktemp("models"), tiny_bundle_dir)


def sign_in(page, server: Server, role: str = "medico", password: str | None = None) -> None:
    """Signs in on the page's header form (the page asks for no API key) and waits until it has."""
    username, right = server.users[role]
    page.fill("#signin-username", username)
    page.fill("#signin-password", password or right)
    page.click("#signin-btn")
    if password is None:
        page.wait_for_selector("body[data-auth=in]", state="attached", timeout=60_000)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, models_dir: Path, webapp_dist: Path) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("server"), models_dir, webapp_dist)
    yield running
    running.live.stop()


@pytest.fixture(scope="package")  # Playwright's sync API runs an event loop in this thread until it stops:
def chromium():                    # a session scope leaves it running, and every later asyncio.run() fails
    if not CHROMIUM.exists():
        pytest.fail("the browser tests drive Debian's Chromium: apt-get install -y chromium "
                    "(make test installs it when missing)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class Recorded:
    """What a page did: every request URL (page, workers, service worker), every console error, and
    every console message of any level (for scans for patient data)."""

    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    posts: list[tuple[str, int]] = field(default_factory=list)
    console: list[str] = field(default_factory=list)


@pytest.fixture
def page(chromium):
    """A fresh browser context (empty caches, storage and service workers) and its page."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="es-CL")
    seen = Recorded()
    context.on("request", lambda r: seen.requests.append(r.url))
    context.on("response", lambda r: seen.posts.append((r.url, r.status)) if r.request.method == "POST" else None)
    page = context.new_page()
    page.on("console", lambda m: seen.errors.append(m.text) if m.type == "error" else None)
    page.on("console", lambda m: seen.console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: seen.errors.append(str(e)))
    page.recorded = seen
    yield page
    context.close()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives Debian's Chromium against a live server (part of make test)")
