"""Translation jobs: large texts and scanned PDFs translated in the background, a few at a time.

A job runs as a task on the server's event loop (the engines are async already; OCR and
de-identification go to worker threads). Its input (the text, or the PDF's bytes) lives only in
that task's memory, so nothing of the source is ever written to disk; the row in
``translation_jobs`` carries the status, the progress (chunks done, a heartbeat) and, at the end,
the result or an error that names no PHI. Jobs wait for a busy engine instead of failing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from backend.core.config import Settings
from backend.services.recovery import beating

logger = logging.getLogger(__name__)


class JobRunner:
    """Runs jobs as event-loop tasks, at most ``concurrency`` at once; the rest wait their turn.

    Built once at start-up (``app.state.translation_jobs``) and shut down with the app."""

    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency
        self._semaphore: asyncio.Semaphore | None = None
        self._tasks: dict[str, asyncio.Task[None]] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> JobRunner:
        return cls(settings.translation_job_concurrency)

    @property
    def alive(self) -> set[str]:
        """Ids of the jobs this process is running or about to run."""
        return set(self._tasks)

    def submit(self, job_id: str, work: Callable[[], Awaitable[None]],
               heartbeat: Callable[[], Awaitable[None]]) -> None:
        task = asyncio.get_running_loop().create_task(beating(self._run(work, heartbeat), heartbeat), name=f"translation-{job_id}")
        self._tasks[job_id] = task
        task.add_done_callback(lambda _t: self._tasks.pop(job_id, None))

    async def _run(self, work: Callable[[], Awaitable[None]], heartbeat: Callable[[], Awaitable[None]]) -> None:
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.concurrency)
        # A job waiting its turn shows it is alive, so readers do not take it for a stalled one.
        while True:
            try:
                await asyncio.wait_for(self._semaphore.acquire(), timeout=60)
                break
            except TimeoutError:
                await heartbeat()
        try:
            await work()
        finally:
            self._semaphore.release()

    async def shutdown(self) -> None:
        """Cancel every job (each records itself as interrupted) and wait for them to finish."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
