"""Browser fixtures: the built webapp, a tiny real bundle in a models dir, a live server, Debian's Chromium.

The webapp is built here when webapp/dist is missing or older than its sources (``make test`` builds
it first, so this is the fallback for a plain ``pytest``). Chromium is Debian's (``apt-get install
chromium``), driven by Playwright's Python package; Playwright's own browser download is never used.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from devtools import export_testing as testing
from tests.support import REPO, LiveServer

WEBAPP = REPO / "webapp"
DIST = WEBAPP / "dist"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = REPO / "test-artifacts"
MAX_NEW_TOKENS = 32


def _newest_source() -> float:
    sources = [WEBAPP / "index.html", WEBAPP / "vite.config.js", WEBAPP / "package-lock.json",
               REPO / "models/contract/contract.json", *WEBAPP.glob("src/**/*"), *(REPO / "clinical/examples").glob("*.json")]
    return max(p.stat().st_mtime for p in sources if p.is_file())


def build_webapp() -> Path:
    """webapp/dist, built with the committed lockfile when it is missing or stale."""
    index = DIST / "index.html"
    if index.is_file() and index.stat().st_mtime >= _newest_source():
        return DIST
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("the browser tests need Node.js and npm to build webapp/ (apt-get install nodejs npm)")
    if not (WEBAPP / "node_modules/.package-lock.json").is_file():
        subprocess.run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=WEBAPP, check=True,
                       capture_output=True, timeout=600)
    subprocess.run([npm, "run", "build"], cwd=WEBAPP, check=True, capture_output=True, timeout=300)
    return DIST


@pytest.fixture(scope="session")
def webapp_dist() -> Path:
    return build_webapp()


@pytest.fixture(scope="session")
def tiny_bundle_dir() -> Path:
    """The tiny Qwen2 exported through the real path (shared with the export and engine tests)."""
    return testing.tiny_bundle().out


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory, tiny_bundle_dir: Path) -> Path:
    """A models dir whose catalog names the tiny bundle; nothing here knows the bundle's name."""
    return testing.catalog_dir(tmp_path_factory.mktemp("models"), tiny_bundle_dir)


PASSWORDS = {"medico": "clave-de-la-doctora", "enfermeria": "clave-del-enfermero"}
USERS = {  # role -> (username, name as printed under a signature, registry type, number)
    "medico": ("perez", "Dra. Pérez", "RNPI", "123456"),
    "enfermeria": ("soto", "Enf. Juan Soto", None, None),
}


@dataclass
class Server:
    live: LiveServer
    key: str  # an EHR key (generate read sign), for tests that call the API directly
    users: dict[str, tuple[str, str]] = field(default_factory=dict)  # role -> (username, password)

    @property
    def url(self) -> str:
        return self.live.url

    @property
    def password(self) -> str:
        """The médico's password (to sign in the page)."""
        return self.users["medico"][1]


def create_users(live: LiveServer, data_dir: Path) -> dict[str, tuple[str, str]]:
    """A médico and a nurse, made with the CLI as an administrator would (password from a file)."""
    made = {}
    for role, (username, name, registry_type, registry_number) in USERS.items():
        secret = data_dir / f"password-{role}"
        secret.write_text(PASSWORDS[role] + "\n")
        registry = ["--registry-type", registry_type, "--registry-number", registry_number] if registry_number else []
        live.cli("create-user", "--username", username, "--name", name, "--role", role, *registry,
                 "--password-file", str(secret))
        secret.unlink()
        made[role] = (username, PASSWORDS[role])
    return made


def sign_in(page, server: Server, role: str = "medico", password: str | None = None) -> None:
    """Signs in on the page's header form (the page asks for no API key) and waits until it has."""
    username, right = server.users[role]
    page.fill("#signin-username", username)
    page.fill("#signin-password", password or right)
    page.click("#signin-btn")
    if password is None:
        page.wait_for_selector("body[data-auth=in]", state="attached", timeout=60_000)


def start_server(data_dir: Path, models_dir: Path, webapp_dir: Path, engines: str = '["template"]',
                 extra_env: dict[str, str] | None = None) -> Server:
    live = LiveServer(data_dir, {"ALTA_ENGINES": engines, "ALTA_MODELS_DIR": str(models_dir),
                                 "ALTA_WEBAPP_DIR": str(webapp_dir), "ALTA_ONNX_MAX_NEW_TOKENS": str(MAX_NEW_TOKENS),
                                 **(extra_env or {})})
    live.cli("migrate")
    key = live.cli("create-key", "--name", "clinician", "--scopes", "generate", "read", "sign").stdout.split()[-1]
    made = create_users(live, data_dir)
    live.start()
    return Server(live, key, made)


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
