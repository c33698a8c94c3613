"""A live Alta with users and the built webapp, and Debian's Chromium: shared by the browser tests and benchmarks.

The webapp is built when webapp/dist is missing or older than its sources (``make test`` builds it
first). Chromium is Debian's (``apt-get install chromium``), driven by Playwright's Python package;
Playwright's own browser download is never used.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from devtools.live_server import LiveServer
from devtools.paths import REPO

WEBAPP = REPO / "webapp"
DIST = WEBAPP / "dist"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
MAX_NEW_TOKENS = 32

PASSWORDS = {"medico": "clave-de-la-doctora", "enfermeria": "clave-del-enfermero"}
USERS = {  # role -> (username, name as printed under a signature, registry type, number)
    "medico": ("perez", "Dra. Pérez", "RNPI", "123456"),
    "enfermeria": ("soto", "Enf. Juan Soto", None, None),
}


class WebappBuildError(RuntimeError):
    """webapp/ could not be built (no npm)."""


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
        raise WebappBuildError("building webapp/ needs Node.js and npm (apt-get install nodejs npm)")
    if not (WEBAPP / "node_modules/.package-lock.json").is_file():
        subprocess.run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=WEBAPP, check=True,
                       capture_output=True, timeout=600)
    subprocess.run([npm, "run", "build"], cwd=WEBAPP, check=True, capture_output=True, timeout=300)
    return DIST


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
