"""Jobs that outlive the process that ran them: heartbeats while they run, recovery when it died.

A translation job runs as a task of one server process. While it waits or runs, :func:`beating`
refreshes its row's ``heartbeat_at`` every :data:`HEARTBEAT_S` seconds. A process killed with
``kill -9`` (or the OOM killer, or a power cut) leaves its jobs ``queued`` or ``running`` with a
heartbeat that stops ageing; :func:`recover_stale_jobs` marks every such job whose heartbeat is
older than ``ALTA_JOB_HEARTBEAT_TIMEOUT_S`` failed (``interrupted``), with a reason that names no
patient data. It runs at start-up and every :data:`SWEEP_S` seconds (another replica's jobs keep
beating, so they are left alone), so a killed job reads failed within a minute of the restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy import and_, or_, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from backend.db.models import TranslationJob, utcnow
from backend.db.session import write_lock
from backend.services import idempotency

logger = logging.getLogger(__name__)

HEARTBEAT_S = 10.0
"""How often a queued or running job shows it is alive (ALTA_JOB_HEARTBEAT_TIMEOUT_S is several times this)."""
SWEEP_S = 15.0
"""How often a running server looks for jobs whose process died."""
INTERRUPTED = "interrupted"
REASON = ("the server running this job stopped (no heartbeat for {timeout:g} s: a crash or restart); "
          "nothing of the document was kept, submit it again")


async def beating(work: Awaitable[None], heartbeat: Callable[[], Awaitable[None]],
                  interval_s: float = HEARTBEAT_S) -> None:
    """Await ``work`` while calling ``heartbeat`` every ``interval_s`` seconds.

    A heartbeat that fails (the database busy or away for a moment) is logged and retried at the
    next beat: it must never fail the job it reports on.
    """

    async def beat() -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                await heartbeat()
            except Exception as exc:  # noqa: BLE001 - a missed beat is retried; the job goes on
                logger.warning("job heartbeat failed: %s", type(exc).__name__)

    ticker = asyncio.create_task(beat(), name="job-heartbeat")
    try:
        await work
    finally:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker


def recover_stale_jobs(sessions: sessionmaker[Session], timeout_s: float, alive: set[str] | frozenset[str] = frozenset()
                       ) -> int:
    """Mark failed every queued or running job whose heartbeat is older than ``timeout_s`` and that
    this process is not running; the number recovered. One UPDATE, so replicas sweeping at once agree."""
    now = utcnow()
    stale_before = now - timedelta(seconds=timeout_s)
    last_sign = or_(TranslationJob.heartbeat_at < stale_before,
                    and_(TranslationJob.heartbeat_at.is_(None), TranslationJob.created_at < stale_before))
    query = (update(TranslationJob)
             .where(TranslationJob.status.in_(("queued", "running")), last_sign)
             .values(status="failed", error_code=INTERRUPTED, error_detail=REASON.format(timeout=timeout_s),
                     finished_at=now))
    if alive:
        query = query.where(TranslationJob.id.not_in(alive))
    with sessions() as session, write_lock(session):
        recovered = session.execute(query).rowcount or 0
        session.commit()
    if recovered:
        logger.warning("recovered %d translation job(s) whose server stopped: marked failed (%s)", recovered,
                       INTERRUPTED)
    return recovered


def at_startup(sessions: sessionmaker[Session], timeout_s: float) -> None:
    """Start-up housekeeping: jobs of a dead process failed, expired idempotency keys deleted.

    A database without the tables (not migrated yet) is left to the first request to report."""
    try:
        recover_stale_jobs(sessions, timeout_s)
        with sessions() as session, write_lock(session):
            idempotency.purge_expired(session)
    except SQLAlchemyError as exc:
        logger.warning("start-up job recovery skipped (%s): is the database migrated? python -m backend migrate",
                       type(exc).__name__)


async def sweep(sessions: sessionmaker[Session], timeout_s: float, alive: Callable[[], set[str]],
                every_s: float = SWEEP_S) -> None:
    """Run :func:`recover_stale_jobs` every ``every_s`` seconds until cancelled (the app's lifespan)."""
    while True:
        await asyncio.sleep(every_s)
        try:
            await asyncio.to_thread(recover_stale_jobs, sessions, timeout_s, frozenset(alive()))
        except Exception as exc:  # noqa: BLE001 - a sweep that fails is tried again at the next one
            logger.warning("job recovery sweep failed: %s", type(exc).__name__)
