"""The one entry point of translation: check the limits once, decide between answering now and
starting a job, de-identify once, translate through the fallback chain, store.

Texts up to ``translation_sync_max_chars`` and PDFs whose every page has a text layer are answered
in the request; larger texts and PDFs with scanned pages (OCR) become a job. Either way the text
is de-identified exactly once, just before translation (a job after its OCR), and the source and
its placeholder mapping are held in memory only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from backend.core.config import Settings
from backend.db.models import TranslationJob, utcnow
from backend.engines.base import Engine
from backend.engines.registry import EngineRegistry
from backend.services.documents import Actor
from backend.services.errors import DomainError, InvalidDocument, OcrMissing
from backend.services.translation.engines import Progress, translate_with_engines, translation_engines
from backend.services.translation.jobs import JobRunner
from backend.services.translation.store import (
    Outcome,
    Source,
    create_job,
    fail_job,
    finish_job,
    get_job,
    store_translation,
    update_job,
)
from clinical.deid import deidentify
from clinical.translate.layout import join_pages
from clinical.translate.ocr import OcrError, OcrUnavailable, check_ocr
from clinical.translate.pdf_reader import PdfError, PdfPage, ocr_missing_pages

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Submission:
    """A request to translate: its source's description, and the text or PDF held in memory."""

    source: Source
    text: str
    pdf: bytes | None = None
    pages: tuple[PdfPage, ...] = ()

    @property
    def needs_ocr(self) -> bool:
        return any(p.source == "pending" for p in self.pages)

    @property
    def field(self) -> str:
        """The request field the source came in (for 422s)."""
        return "file" if self.source.kind == "pdf" else "text"

    def __repr__(self) -> str:  # never the text
        return f"Submission({self.source.kind}, {self.source.chars} chars, {len(self.pages)} pages)"


@dataclass(frozen=True)
class Submitted:
    """What :meth:`TranslationService.submit` did: the stored translation (done) or the job (queued)."""

    job: TranslationJob
    answered_now: bool
    engine: str | None = None


class TranslationService:
    """Translation for one request: the configured engines, the settings, the database, the job runner."""

    def __init__(self, registry: EngineRegistry, settings: Settings, sessions: sessionmaker[Session],
                 runner: JobRunner) -> None:
        self.registry = registry
        self.settings = settings
        self.sessions = sessions
        self.runner = runner

    # --- the one limit check ---------------------------------------------------------------------

    def check_text(self, text: str, field: str = "text", *, ocr_pending: bool = False) -> None:
        """Raise InvalidDocument when ``text`` is empty (and no OCR is to come) or over the limit."""
        if not text.strip() and not ocr_pending:
            what = "the PDF has no text to translate" if field == "file" else "the text is empty"
            raise InvalidDocument(what, field=field, kind="no_text")
        limit = self.settings.translation_max_chars
        if len(text) > limit:
            raise InvalidDocument(f"the document's text has {len(text)} characters; at most {limit} per request "
                                  "(ALTA_TRANSLATION_MAX_CHARS): split the document", field=field, kind="too_long")

    # --- submit ------------------------------------------------------------------------------------

    async def submit(self, submission: Submission, actor: Actor,
                     admit: Callable[[], Awaitable[None]] | None = None) -> Submitted:
        """Translate now (a small text, a PDF with text layers) or start a job; ``admit`` is awaited
        once the request is valid and some engine translates, before any work (admission control)."""
        self.check_text(submission.text, submission.field, ocr_pending=submission.needs_ocr)
        if submission.needs_ocr:
            try:
                check_ocr(self.settings.translation_ocr_lang)
            except OcrUnavailable as exc:
                logger.error("a PDF with scanned pages was refused: %s", exc)
                raise OcrMissing(f"the PDF has scanned pages and this server cannot read them: {exc}") from None
        engines = translation_engines(self.registry)
        if admit is not None:
            await admit()
        if not submission.needs_ocr and len(submission.text) <= self.settings.translation_sync_max_chars:
            outcome = await self._translate(submission.text, engines)
            with self.sessions() as session:
                job = await asyncio.to_thread(store_translation, session, submission.source, outcome, actor=actor)
                session.expunge(job)
            return Submitted(job, True, outcome.engine.name)
        with self.sessions() as session:
            job = await asyncio.to_thread(create_job, session, submission.source, actor=actor)
            session.expunge(job)
        self.runner.submit(job.id, lambda: self._run_job(job.id, submission),
                           lambda: asyncio.to_thread(update_job, self.sessions, job.id))
        return Submitted(job, False)

    async def _translate(self, text: str, engines: list[Engine], *, busy_wait_s: float = 0.0,
                         on_progress: Progress | None = None) -> Outcome:
        """De-identify (once, here) and translate through the fallback chain."""
        deid = await asyncio.to_thread(deidentify, text)
        return await translate_with_engines(deid, engines, self.settings, self.sessions,
                                            busy_wait_s=busy_wait_s, on_progress=on_progress)

    # --- jobs ----------------------------------------------------------------------------------------

    async def _run_job(self, job_id: str, submission: Submission) -> None:
        """Translate one job's source and store the result, or the reason it failed, on its row."""
        sessions = self.sessions

        def touch(**values: object) -> Awaitable[None]:
            return asyncio.to_thread(update_job, sessions, job_id, **values)

        try:
            await touch(status="running", started_at=utcnow())
            text = submission.text
            if submission.needs_ocr and submission.pdf is not None:
                pages = await asyncio.to_thread(
                    ocr_missing_pages, submission.pdf, list(submission.pages), self.settings.translation_ocr_lang,
                    self.settings.translation_ocr_dpi, lambda _n: update_job(sessions, job_id))
                text = join_pages([p.text for p in pages])
                await touch(ocr_pages=sum(p.source == "ocr" for p in pages), source_chars=len(text))
                self.check_text(text, "file")  # OCR brought text the submission did not have
            engines = translation_engines(self.registry)

            async def progress(done: int, total: int) -> None:
                await touch(chunks_done=done, chunks_total=total)

            outcome = await self._translate(text, engines, busy_wait_s=self.settings.translation_job_busy_wait_s,
                                            on_progress=progress)
            await asyncio.to_thread(finish_job, sessions, job_id, outcome)
            logger.info("translation job %s done: %d chunks by %s", job_id, outcome.result.chunks,
                        outcome.engine.name)
        except asyncio.CancelledError:
            fail_job(sessions, job_id, "interrupted", "the server shut down while translating; submit the "
                     "document again")
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

    # --- read ----------------------------------------------------------------------------------------

    def read(self, session: Session, job_id: str, actor: Actor) -> TranslationJob:
        return get_job(session, job_id, actor=actor, stall_s=self.settings.translation_job_stall_s,
                       alive=self.runner.alive)
