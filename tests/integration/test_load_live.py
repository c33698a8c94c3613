"""Load, a full queue, and a crash, against a live server on loopback (a separate process).

Many clients create, read and edit documents for a fixed short time. Checked afterwards, in the
database itself: no 5xx but the queue's 503s (each with Retry-After), one stored document and one
generation for every 201 and nothing more, every edit that got a 200 stored, no "database is
locked". A server killed with SIGKILL mid-load and restarted still has every document it
acknowledged. The default suite runs short versions; ``-m slow`` runs longer and harder ones.
"""

from __future__ import annotations

import asyncio
import copy
import os
import random
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session

from backend.db import migrate
from backend.db.models import AuditEvent, Document, DocumentVersion, Generation
from backend.services import apikeys
from clinical.contract import example_records
from tests.support import LiveServer

RECORD = example_records()["neumonia_chile"]
TEMPORARY = {429: "rate_limited", 503: "overloaded"}


@dataclass
class Tally:
    statuses: Counter = field(default_factory=Counter)
    created: list[str] = field(default_factory=list)
    edits_ok: Counter = field(default_factory=Counter)  # document id -> edits acknowledged
    problems: list[str] = field(default_factory=list)
    transport_errors: int = 0
    transport_kinds: Counter = field(default_factory=Counter)

    def check_refusal(self, response: httpx.Response) -> None:
        """A 429/503 must say when to retry, in the usual error shape."""
        retry = response.headers.get("retry-after", "")
        code = response.json().get("code")
        if not retry.isdigit() or int(retry) < 1 or code not in (TEMPORARY[response.status_code], "no_engine_available"):
            self.problems.append(f"{response.status_code} without Retry-After or code: {retry!r} {code!r}")


def _record(i: int) -> dict:
    record = copy.deepcopy(RECORD)
    record["patient"]["identifiers"][1]["value"] = f"NHC{i:06d}"  # distinct patients, searchable
    return record


async def _client(http: httpx.AsyncClient, n: int, deadline: float, tally: Tally, stop: asyncio.Event) -> None:
    """One clinician's EHR: create a draft, now and then re-read one or edit its own."""
    rng = random.Random(n)
    mine: dict[str, int] = {}  # document id -> current version
    i = 0
    while time.monotonic() < deadline and not stop.is_set():
        i += 1
        try:
            if mine and i % 4 == 0:
                doc_id = rng.choice(list(mine))
                r = await http.put(f"/api/v1/documents/{doc_id}", json={
                    "text": f"Edición {i} del cliente {n}.", "base_version": mine[doc_id], "author": f"Dr. {n}"})
                if r.status_code == 200:
                    mine[doc_id] += 1
                    tally.edits_ok[doc_id] += 1
            elif tally.created and i % 3 == 0:
                r = await http.get(f"/api/v1/documents/{rng.choice(tally.created)}")
            else:
                r = await http.post("/api/v1/epicrisis", json={"record": _record(n * 10_000 + i)})
                if r.status_code == 201:
                    mine[r.json()["id"]] = 1
                    tally.created.append(r.json()["id"])
        except httpx.TransportError as exc:
            tally.transport_errors += 1
            tally.transport_kinds[type(exc).__name__] += 1
            if stop.is_set():
                return
            await asyncio.sleep(0.05)
            continue
        tally.statuses[r.status_code] += 1
        if r.status_code in TEMPORARY:
            tally.check_refusal(r)
            await asyncio.sleep(0.1)  # a real client waits Retry-After; the test keeps the pressure on
        elif r.status_code >= 500:
            tally.problems.append(f"{r.status_code}: {r.text[:200]}")


async def _load(url: str, token: str, clients: int, seconds: float, kill_after_created: int | None = None,
                kill=None) -> Tally:
    """``clients`` clients for ``seconds``; with ``kill``, the server is killed once it has acknowledged
    ``kill_after_created`` documents, while every client still has a request in flight or about to go."""
    tally, stop = Tally(), asyncio.Event()
    # Idle connections are dropped before uvicorn's 5 s keep-alive timeout would close them under a
    # request just sent on them (a client-side race that is no server fault).
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients, keepalive_expiry=2)
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, limits=limits,
                                 timeout=60) as http:
        deadline = time.monotonic() + seconds
        tasks = [asyncio.create_task(_client(http, n, deadline, tally, stop)) for n in range(clients)]
        if kill is not None:
            while len(tally.created) < kill_after_created and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            stop.set()
            await asyncio.to_thread(kill)
        await asyncio.gather(*tasks)
    return tally


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'alta.db'}"
    from tests.integration.conftest import _fresh_postgres

    return _fresh_postgres()


def _server(tmp_path: Path, database_url: str, **env: str) -> tuple[LiveServer, str]:
    server = LiveServer(tmp_path, {"ALTA_ENGINES": '["template"]', "ALTA_DATABASE_URL": database_url,
                                   "ALTA_LOG_LEVEL": "WARNING", **{f"ALTA_{k.upper()}": v for k, v in env.items()}})
    migrate.upgrade(database_url)  # in this process: a CLI subprocess costs seconds on a busy machine
    engine = create_engine(database_url)
    with Session(engine) as session:
        token = apikeys.create_key(session, "load", ["generate", "read"])
    engine.dispose()
    return server, token


@pytest.fixture
def sessions_for() -> Iterator:
    engines = []

    def open_(url: str) -> Session:
        engine = create_engine(url)
        engines.append(engine)
        return Session(engine)

    yield open_
    for engine in engines:
        engine.dispose()


def _assert_nothing_lost(session: Session, tally: Tally) -> None:
    """Exactly the acknowledged documents are stored, each with its generation and its edits."""
    created = set(tally.created)
    assert len(created) == len(tally.created)
    stored = set(session.scalars(select(Document.id)))
    assert stored == created, f"{len(stored - created)} stored but not acknowledged, {len(created - stored)} lost"
    with_generation = set(session.scalars(select(Generation.document_id)))
    assert with_generation == created  # every accepted request left its generation
    versions = {doc_id: n for doc_id, n in session.execute(
        select(DocumentVersion.document_id, func.count()).group_by(DocumentVersion.document_id))}
    for doc_id in created:
        assert versions[doc_id] == 1 + tally.edits_ok[doc_id], doc_id
    creates = session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "create"))
    assert creates == len(created)


def _assert_clean_log(server: LiveServer) -> None:
    log = server.log.read_text()
    for bad in ("database is locked", "unhandled", "Traceback"):
        assert bad not in log, log[-3000:]


def _run_queue_load(tmp_path: Path, database_url: str, sessions_for, clients: int, seconds: float,
                    **env: str) -> Tally:
    server, token = _server(tmp_path, database_url, **env)
    server.start()
    try:
        tally = asyncio.run(_load(server.url, token, clients, seconds))
    finally:
        server.stop()
    assert not tally.problems, tally.problems[:5]
    assert tally.transport_errors == 0, tally.transport_kinds
    assert set(tally.statuses) <= {200, 201, 409, 429, 503}, tally.statuses
    with sessions_for(database_url) as session:
        _assert_nothing_lost(session, tally)
    _assert_clean_log(server)
    return tally


@pytest.mark.timeout(120)
def test_a_full_queue_answers_503_and_loses_nothing(tmp_path, database_url, sessions_for) -> None:
    tally = _run_queue_load(tmp_path, database_url, sessions_for, clients=24, seconds=4,
                            max_inflight_generations="2", max_queued_generations="4", queue_timeout_s="5")
    assert tally.statuses[201] >= 10 and tally.statuses[503] >= 3, tally.statuses
    assert tally.statuses[200] >= 5 and sum(tally.edits_ok.values()) >= 2, tally.statuses


def _sqlite_integrity(url: str) -> str:
    engine = create_engine(url)
    with engine.connect() as conn:
        result = conn.execute(text("PRAGMA integrity_check")).scalar()
    engine.dispose()
    return result


def _kill_and_restart(tmp_path: Path, database_url: str, sessions_for, clients: int, seconds: float,
                      kill_after_created: int, rounds: int) -> None:
    server, token = _server(tmp_path, database_url)
    acknowledged: list[str] = []
    for _ in range(rounds):
        server.start()
        tally = asyncio.run(_load(server.url, token, clients, seconds, kill_after_created, kill=server.kill))
        assert server.proc.returncode == -9  # it really was SIGKILLed mid-load
        assert not tally.problems, tally.problems[:5]
        # killed after kill_after_created acknowledgements (or at the deadline on a slow machine)
        assert len(tally.created) >= 5 and tally.transport_errors >= 1, tally
        acknowledged += tally.created

    server.start()  # after the last crash: everything acknowledged must be there
    try:
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
            for doc_id in acknowledged:
                r = http.get(f"/api/v1/documents/{doc_id}")
                assert r.status_code == 200, (doc_id, r.status_code)
                assert r.json()["provenance"]["engine"] == "template" and r.json()["text"]
    finally:
        server.stop()
    with sessions_for(database_url) as session:
        stored = set(session.scalars(select(Document.id)))
        assert set(acknowledged) <= stored  # some unacknowledged ones may be stored too: that is fine
        assert set(session.scalars(select(Generation.document_id))) >= set(acknowledged)
    if database_url.startswith("sqlite"):
        assert _sqlite_integrity(database_url) == "ok"


@pytest.mark.timeout(120)
def test_a_server_killed_mid_load_loses_nothing_it_acknowledged(tmp_path, database_url, sessions_for) -> None:
    _kill_and_restart(tmp_path, database_url, sessions_for, clients=12, seconds=30, kill_after_created=15, rounds=1)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_sustained_load_with_rate_limits(tmp_path, database_url, sessions_for) -> None:
    started = time.monotonic()
    tally = _run_queue_load(tmp_path, database_url, sessions_for, clients=96, seconds=30,
                            max_inflight_generations="4", max_queued_generations="16", queue_timeout_s="2",
                            rate_limit_per_minute="30")
    elapsed = time.monotonic() - started
    assert tally.statuses[201] >= 20 and tally.statuses[503] >= 10 and tally.statuses[429] >= 10, tally.statuses
    assert tally.statuses[201] <= 30 + elapsed / 2 + 1  # the one key's burst plus its refill, no more


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_repeated_crashes_lose_nothing(tmp_path, database_url, sessions_for) -> None:
    _kill_and_restart(tmp_path, database_url, sessions_for, clients=32, seconds=60, kill_after_created=60, rounds=3)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_two_server_processes_share_one_sqlite_file(tmp_path) -> None:
    """Two processes writing one SQLite file (two workers, or the CLI while serving): SQLite's
    busy_timeout makes the second writer wait, never fail with "database is locked"."""
    url = f"sqlite:///{tmp_path / 'alta.db'}"
    first, token = _server(tmp_path, url)
    second = LiveServer(tmp_path, {k: v for k, v in first.env.items()
                                   if k.startswith("ALTA_") and k not in ("ALTA_ENVIRONMENT", "ALTA_DATA_DIR")})
    first.start()
    second.start()
    try:
        async def both() -> list[Tally]:
            return await asyncio.gather(_load(first.url, token, 32, 15), _load(second.url, token, 32, 15))

        tallies = asyncio.run(both())
    finally:
        first.stop()
        second.stop()
    merged = Tally()
    for t in tallies:
        assert not t.problems and t.transport_errors == 0, t.problems[:5]
        merged.statuses.update(t.statuses)
        merged.created += t.created
        merged.edits_ok.update(t.edits_ok)
    assert set(merged.statuses) <= {200, 201, 409}, merged.statuses
    engine = create_engine(url)
    with Session(engine) as session:
        _assert_nothing_lost(session, merged)
    engine.dispose()
    _assert_clean_log(first)
    assert os.path.getsize(tmp_path / "alta.db") > 0
