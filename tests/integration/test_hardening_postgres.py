"""PostgreSQL killed with SIGKILL under load (issue 20, make test-postgres): while it is down Alta
answers 503 with Retry-After (never a 500), it serves again once PostgreSQL is back, and retries
with Idempotency-Key end with exactly one document per key; no acknowledged document is lost."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.integration.conftest import _fresh_postgres
from tests.support import LiveServer

pytestmark = pytest.mark.postgres
EPICRISIS = "/api/v1/epicrisis"


def _postmaster(url: str) -> tuple[int, list[str], Path]:
    """The running PostgreSQL's pid, the command line it was started with, and its data directory."""
    engine = create_engine(url)
    with engine.connect() as conn:
        data = Path(conn.execute(text("SHOW data_directory")).scalar())
    engine.dispose()
    pid = int((data / "postmaster.pid").read_text().split()[0])
    return pid, shlex.split((data / "postmaster.opts").read_text()), data


def _start(argv: list[str], data: Path) -> None:
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
    log = open(data.parent / "restarted.log", "ab")  # noqa: SIM115 - the server outlives this call
    subprocess.Popen([*as_postgres, *argv], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _wait_healthy(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            engine = create_engine(url)
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            engine.dispose()
            return
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.5)
    raise TimeoutError("PostgreSQL did not come back")


def test_postgres_killed_mid_load(tmp_path, record):
    url = _fresh_postgres()
    server = LiveServer(tmp_path, {"ALTA_ENGINES": "[\"template\"]", "ALTA_DATABASE_URL": url,
                                   "ALTA_LOG_LEVEL": "WARNING"})
    server.cli("migrate")
    token = server.cli("create-key", "--name", "ehr", "--scopes", "generate", "read").stdout.strip().splitlines()[-1]
    headers = {"Authorization": f"Bearer {token}"}
    keys = [str(uuid.uuid4()) for _ in range(60)]
    statuses: dict[str, int | None] = {}
    acknowledged: dict[str, str] = {}
    server.start()
    try:
        pid, argv, data = _postmaster(url)

        def post(key: str) -> None:
            try:
                r = httpx.post(f"{server.url}{EPICRISIS}", json={"record": record}, timeout=60,
                               headers={**headers, "Idempotency-Key": key})
                statuses[key] = r.status_code
                if r.status_code == 201:
                    acknowledged[key] = r.json()["id"]
            except httpx.TransportError:
                statuses[key] = None

        with ThreadPoolExecutor(6) as pool:
            futures = [pool.submit(post, k) for k in keys]
            deadline = time.monotonic() + 60
            while len(acknowledged) < 10 and time.monotonic() < deadline:
                time.sleep(0.01)
            os.kill(pid, signal.SIGKILL)
            for f in futures:
                f.result()
        assert 0 < len(acknowledged) < len(keys)
        assert 500 not in statuses.values(), statuses  # an outage is a 503 with Retry-After, never a 500
        down = httpx.get(f"{server.url}/api/v1/documents", headers=headers, timeout=30)
        assert down.status_code == 503 and down.headers["retry-after"] == "5"

        _start(argv, data)
        _wait_healthy(url)
        for key in keys:  # every client retries with its key
            for _attempt in range(20):
                r = httpx.post(f"{server.url}{EPICRISIS}", json={"record": record}, timeout=60,
                               headers={**headers, "Idempotency-Key": key})
                if r.status_code != 503:
                    break
                time.sleep(0.5)
            assert r.status_code in (200, 201), r.text
            if key in acknowledged:
                assert r.status_code == 200 and r.json()["id"] == acknowledged[key]
        total = httpx.get(f"{server.url}/api/v1/documents?limit=1", headers=headers).json()["total"]
        assert total == len(keys)  # exactly one document per key: none lost, none twice
    finally:
        server.stop()
