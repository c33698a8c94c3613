"""`make run` listens where ALTA_HOST / ALTA_PORT say, unless `make run HOST=... PORT=...` overrides them."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.support import REPO

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def _serve_line(*args: str, **env: str) -> str:
    environ = {k: v for k, v in os.environ.items() if k not in {"HOST", "PORT", "ALTA_HOST", "ALTA_PORT"}}
    out = subprocess.run(["make", "-n", "run", *args], cwd=REPO, env={**environ, **env},
                         capture_output=True, text=True, check=True).stdout
    return next(line for line in out.splitlines() if "-m backend serve" in line)


def test_make_run_leaves_host_and_port_to_the_settings():
    line = _serve_line(ALTA_HOST="0.0.0.0", ALTA_PORT="9123")
    assert "--host" not in line and "--port" not in line  # the server reads ALTA_HOST/ALTA_PORT itself


def test_make_variables_override_the_settings():
    line = _serve_line("HOST=0.0.0.0", "PORT=9124", ALTA_PORT="9123")
    assert "--host 0.0.0.0" in line and "--port 9124" in line


def test_serve_defaults_come_from_alta_host_and_port(monkeypatch):
    from backend.core.config import Settings

    monkeypatch.setenv("ALTA_HOST", "0.0.0.0")
    monkeypatch.setenv("ALTA_PORT", "9125")
    settings = Settings()
    assert (settings.host, settings.port) == ("0.0.0.0", 9125)
