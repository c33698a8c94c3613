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
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from backend.core.config import Settings
from backend.db.models import utcnow
from backend.engines.base import EngineRegistry
from backend.services.errors import DomainError
from backend.services.translations import (
    InvalidDocument,
    fail_job,
    finish_job,
    translate_with_engines,
    translation_engines,
    update_job,
)
from clinical.deid import deidentify
from clinical.translate.layout import join_pages
from clinical.translate.ocr import OcrError, OcrUnavailable
from clinical.translate.pdf_reader import PdfError, PdfPage, ocr_missing_pages

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobInput:
    """A job's source, held in memory only: a text, or a PDF with its pages read so far."""

    text: str | None = None
    pdf: bytes | None = None
    pages: tuple[PdfPage, ...] = ()

    def __repr__(self) -> str:  # never the text
        return f"JobInput({'pdf' if self.pdf else 'text'}, {len(self.pages)} pages)"


class JobRunner:
    """Runs jobs as event-loop tasks, at most ``concurrency`` at once; the rest wait their turn."""

    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency
        self._semaphore: asyncio.Semaphore | None = None
        self._tasks: dict[str, asyncio.Task[None]] = {}

    @property
    def alive(self) -> set[str]:
        """Ids of the jobs this process is running or about to run."""
        return set(self._tasks)

    def submit(self, job_id: str, work: Callable[[], Awaitable[None]],
               heartbeat: Callable[[], Awaitable[None]]) -> None:
        task = asyncio.get_running_loop().create_task(self._run(work, heartbeat), name=f"translation-{job_id}")
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


async def run_job(job_id: str, source: JobInput, *, registry: EngineRegistry, settings: Settings,
                  sessions: sessionmaker[Session]) -> None:
    """Translate one job's source and store the result, or the reason it failed, on its row."""

    def touch(**values: object) -> Awaitable[None]:
        return asyncio.to_thread(update_job, sessions, job_id, **values)

    try:
        await touch(status="running", started_at=utcnow())
        text = source.text
        if source.pdf is not None:
            pages = await asyncio.to_thread(
                ocr_missing_pages, source.pdf, list(source.pages), settings.translation_ocr_lang,
                settings.translation_ocr_dpi, lambda _n: update_job(sessions, job_id))
            text = join_pages([p.text for p in pages])
            await touch(ocr_pages=sum(p.source == "ocr" for p in pages), source_chars=len(text))
        if text is None or not text.strip():
            raise InvalidDocument("no text found in the document, neither in a text layer nor by OCR")
        if len(text) > settings.translation_max_chars:
            raise InvalidDocument(f"the document's text has {len(text)} characters; at most "
                              f"{settings.translation_max_chars} per request (ALTA_TRANSLATION_MAX_CHARS)")
        engines = translation_engines(registry)
        deid = await asyncio.to_thread(deidentify, text)

        async def progress(done: int, total: int) -> None:
            await touch(chunks_done=done, chunks_total=total)

        outcome = await translate_with_engines(deid, engines, settings, sessions,
                                               busy_wait_s=settings.translation_job_busy_wait_s, on_progress=progress)
        await asyncio.to_thread(finish_job, sessions, job_id, outcome)
        logger.info("translation job %s done: %d chunks by %s", job_id, outcome.result.chunks, outcome.engine.name)
    except asyncio.CancelledError:
        fail_job(sessions, job_id, "interrupted", "the server shut down while translating; submit the document again")
        raise
    except DomainError as exc:
        await asyncio.to_thread(fail_job, sessions, job_id, exc.code, str(exc))
    except PdfError as exc:
        await asyncio.to_thread(fail_job, sessions, job_id, "invalid_pdf", str(exc))
    except OcrUnavailable as exc:
        await asyncio.to_thread(fail_job, sessions, job_id, "ocr_unavailable", str(exc))
    except OcrError as exc:
        await asyncio.to_thread(fail_job, sessions, job_id, "ocr_failed", str(exc))
    except Exception as exc:  # noqa: BLE001 - the job's top level: record the failure, no one else will
        # The exception text may quote the document: log its type and the job id only.
        logger.error("translation job %s failed: unexpected %s", job_id, type(exc).__name__)
        await asyncio.to_thread(fail_job, sessions, job_id, "internal_error",
                                "internal error while translating; the server log has the job id")
