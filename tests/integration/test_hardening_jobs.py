"""Translation jobs left queued or running by a killed process read failed soon after (issue 20):
a heartbeat older than ALTA_JOB_HEARTBEAT_TIMEOUT_S means the process died."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from backend.app import create_app
from backend.db.models import TranslationJob, utcnow
from backend.db.session import make_engine, make_sessionmaker
from backend.services import recovery
from tests.support import LiveServer

PHI = "María Elena Soto Pérez"


def job(sessions, status: str, heartbeat_age_s: float | None, **values) -> str:
    now = utcnow()
    row = TranslationJob(status=status, source_kind="text", source_chars=10, created_by="ehr",
                         request_id=uuid.uuid4().hex, created_at=now - dt.timedelta(seconds=heartbeat_age_s or 600),
                         heartbeat_at=None if heartbeat_age_s is None else now - dt.timedelta(seconds=heartbeat_age_s),
                         **values)
    with sessions() as session:
        session.add(row)
        session.commit()
        return row.id


def statuses(sessions) -> dict[str, tuple[str, str | None, str | None]]:
    with sessions() as session:
        return {j.id: (j.status, j.error_code, j.error_detail) for j in session.scalars(select(TranslationJob))}


def test_stale_jobs_fail_and_live_ones_do_not(sessions):
    stale_running = job(sessions, "running", 120)
    stale_queued = job(sessions, "queued", 120)
    never_beat = job(sessions, "queued", None)
    fresh = job(sessions, "running", 5)
    mine = job(sessions, "running", 120)  # stale in the table but run by this process
    done = job(sessions, "done", 3600, result_text=PHI)
    assert recovery.recover_stale_jobs(sessions, 45, alive={mine}) == 3
    now = statuses(sessions)
    for failed in (stale_running, stale_queued, never_beat):
        status, code, detail = now[failed]
        assert (status, code) == ("failed", "interrupted") and "submit it again" in detail
    assert now[fresh][0] == "running" and now[mine][0] == "running" and now[done][0] == "done"


def test_start_up_recovers_jobs_and_the_api_shows_them_failed(settings, sessions, auth):
    stale = job(sessions, "running", 120)
    with TestClient(create_app(settings)) as client:
        body = client.get(f"/api/v1/translations/{stale}", headers=auth).json()
    assert body["status"] == "failed" and body["error"]["code"] == "interrupted"
    assert PHI not in body["error"]["detail"]


def test_beating_calls_the_heartbeat_while_the_work_runs():
    beats = []

    async def heartbeat():
        beats.append(time.monotonic())
        if len(beats) == 2:
            raise RuntimeError("database away for a moment")  # a missed beat never fails the job

    async def work():
        await asyncio.sleep(0.25)
        return None

    asyncio.run(recovery.beating(work(), heartbeat, interval_s=0.04))
    assert len(beats) >= 4
    count = len(beats)
    time.sleep(0.1)
    assert len(beats) == count  # stopped with the work


def test_the_sweep_fails_a_job_whose_heartbeat_stops(sessions):
    stale = job(sessions, "running", 40)

    async def run():
        task = asyncio.create_task(recovery.sweep(sessions, 30, set, every_s=0.05))
        await asyncio.sleep(0.3)
        task.cancel()

    asyncio.run(run())
    assert statuses(sessions)[stale][:2] == ("failed", "interrupted")


@pytest.mark.slow
def test_a_job_of_a_killed_server_reads_failed_within_a_minute_of_restart(tmp_path):
    """A live server is killed (SIGKILL) while a job it runs beats; after the restart the job reads
    failed (interrupted) within a minute, through the API."""
    server = LiveServer(tmp_path, {"ALTA_ENGINES": "[\"template\"]", "ALTA_JOB_HEARTBEAT_TIMEOUT_S": "30"})
    server.cli("migrate")
    token = server.cli("create-key", "--name", "ehr", "--scopes", "generate", "read").stdout.strip().splitlines()[-1]
    engine = make_engine(f"sqlite:///{tmp_path / 'alta.db'}")
    sessions = make_sessionmaker(engine)
    server.start()
    try:
        running = job(sessions, "running", 1)  # as the server's job would be, beating until the kill
        server.kill()
        server.start()
        restarted = time.monotonic()
        while time.monotonic() - restarted < 60:
            body = httpx.get(f"{server.url}/api/v1/translations/{running}",
                             headers={"Authorization": f"Bearer {token}"}).json()
            if body["status"] == "failed":
                break
            time.sleep(1)
        assert body["status"] == "failed" and body["error"]["code"] == "interrupted"
        assert time.monotonic() - restarted < 60
    finally:
        server.stop()
        engine.dispose()


@pytest.mark.parametrize(("setting", "pragma"), [("NORMAL", 1), ("FULL", 2)])
def test_sqlite_durability_is_a_setting(settings, setting, pragma):
    from sqlalchemy import text

    if not settings.resolved_database_url.startswith("sqlite"):
        pytest.skip("SQLite only")
    app = create_app(settings.model_copy(update={"sqlite_synchronous": setting}))
    with app.state.sessionmaker() as session:
        assert session.execute(text("PRAGMA synchronous")).scalar() == pragma
