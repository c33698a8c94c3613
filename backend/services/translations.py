"""Translations: the engines that do the task, the database chunk cache, jobs, and their results.

The pipeline itself is :mod:`clinical.translate` (de-identify, chunk, translate, check placeholders,
re-identify); this module feeds it the configured engines in order and the database.

What is stored, and why:
- ``translation_cache``: de-identified chunks and their checked de-identified translations, keyed
  by model, model version, prompt contract and glossary version. Never PHI, never re-identified.
- ``translation_jobs``: one row per translation with its status and, once done, the re-identified
  translation (a clinical document, PHI, kept like ``document_versions.text`` so the client can
  fetch it as text or PDF). The source text, the uploaded PDF and the placeholder mapping are never
  written anywhere: a job holds them in memory while it runs, so a job cut short by a restart is
  reported failed ("submit again") instead of resumed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from backend.core import metrics
from backend.core.config import Settings
from backend.db.models import AuditEvent, TranslationCacheEntry, TranslationJob, utcnow
from backend.db.session import write_lock
from backend.engines.base import (
    Engine,
    EngineBusy,
    EngineError,
    EngineRegistry,
    EngineUnsupported,
    GenerationParams,
)
from backend.services.documents import Actor, Fallback
from backend.services.errors import DomainError, NoEngineAvailable
from clinical.contract import CONTRACT_VERSION
from clinical.deid import DeidResult
from clinical.translate import (
    Answer,
    ChunkingError,
    ChunkTranslationError,
    Complete,
    TranslationError,
    TranslationResult,
    cache_key,
    estimate_tokens,
    glossary_version,
    translate_deidentified,
)
from clinical.translate.chunking import CountTokens

logger = logging.getLogger(__name__)

TASK = "translation"
HOW_TO_CONFIGURE = (
    "configure a translation model: export it with `python -m export bundle --checkpoint DIR --out models/NAME "
    "--catalog models/catalog.json --tasks translation` (or add \"translation\" to the \"tasks\" of its entry in "
    "models/catalog.json), then set ALTA_ONNX_MODEL=NAME and ALTA_ENGINES='[\"onnx\", \"template\"]'; "
    "or serve it with vLLM (`python -m backend vllm-command`) and set ALTA_VLLM_BASE_URLS and "
    "ALTA_VLLM_MODELS='{\"translation\": \"ADAPTER\"}' with \"vllm\" first in ALTA_ENGINES; "
    "GET /api/v1/models lists each engine's tasks")


class NoTranslationEngine(DomainError):
    status_code = 503
    code = "no_translation_engine"


class TranslationFailed(DomainError):
    """The model's answers could not be used (placeholders lost, empty, cut short); nothing was returned."""

    status_code = 502

    def __init__(self, message: str, code: str = "translation_failed", status_code: int = 502) -> None:
        super().__init__(message)
        self.code = code
        self.status_code = status_code


class InvalidDocument(DomainError):
    """The document has no text to translate, or too much (the message says which; never its content)."""

    status_code = 422
    code = "invalid_document"


class OcrMissing(DomainError):
    """A PDF has scanned pages and Tesseract (or its Spanish data) is not installed on this server."""

    status_code = 503
    code = "ocr_unavailable"


class PdfOutputUnavailable(DomainError):
    """The PDF writer's font is not installed on this server."""

    status_code = 503
    code = "pdf_output_unavailable"


class UnsupportedMediaType(DomainError):
    status_code = 415
    code = "unsupported_media_type"


class TranslationNotFound(DomainError):
    status_code = 404
    code = "translation_not_found"


class TranslationNotReady(DomainError):
    status_code = 409
    code = "translation_not_ready"


# --- engines ------------------------------------------------------------------------------------

def translation_engines(registry: EngineRegistry) -> list[Engine]:
    """The engines that do translation, in the configured order; 503 saying how to add one if none does."""
    engines = registry.for_task(TASK)
    if not engines:
        configured = ", ".join(f"{e.name} ({'/'.join(e.tasks)})" for e in registry)
        raise NoTranslationEngine(f"no configured engine does translation (configured: {configured}); "
                                  + HOW_TO_CONFIGURE)
    return engines


def count_tokens_for(engine: Engine) -> CountTokens:
    """The engine's own tokenizer when it has one (the ONNX engine), else a conservative estimate."""
    return lambda text: engine.count_tokens(text) or estimate_tokens(text)


def engine_complete(engine: Engine, settings: Settings, busy_wait_s: float = 0.0) -> Complete:
    """``engine`` as the pipeline's ``complete``: greedy first, sampled (seeded) on the retry.

    A busy engine is waited for up to ``busy_wait_s`` (jobs are patient; a request is not: 0).
    An answer that stopped at ``translation_max_new_tokens`` is marked truncated, not accepted.
    """

    async def complete(messages: list[dict[str, str]], *, attempt: int) -> Answer:
        retry_sampling = attempt > 0 and settings.translation_retry_temperature > 0
        params = GenerationParams(max_new_tokens=settings.translation_max_new_tokens,
                                  temperature=settings.translation_retry_temperature if retry_sampling else None,
                                  seed=attempt if retry_sampling else None)
        started = time.perf_counter()
        deadline = started + busy_wait_s
        while True:
            try:
                completion = await engine.complete(messages, TASK, params)
                break
            except EngineBusy:
                if time.perf_counter() >= deadline:
                    raise
                await asyncio.sleep(1.0)
        seconds = time.perf_counter() - started
        metrics.GENERATIONS.labels(engine.name, TASK).inc()
        metrics.GENERATION_SECONDS.labels(engine.name, TASK).observe(seconds)
        if completion.completion_tokens:
            metrics.TOKENS.labels(engine.name, TASK).inc(completion.completion_tokens)
        return Answer(completion.text, truncated=completion.finish_reason == "length")

    return complete


# --- the cache ----------------------------------------------------------------------------------

class DatabaseChunkCache:
    """The pipeline's chunk cache in ``translation_cache``, for one model and version."""

    def __init__(self, sessions: sessionmaker[Session], model: str, model_version: str) -> None:
        self.sessions = sessions
        self.model = model
        self.model_version = model_version

    def _key(self, source: str) -> str:
        return cache_key(source, self.model, self.model_version)

    def _get(self, source: str) -> str | None:
        with self.sessions() as session:
            row = session.get(TranslationCacheEntry, self._key(source))
            return row.translation if row is not None and row.source_text == source else None

    def _put(self, source: str, translation: str) -> None:
        with self.sessions() as session, write_lock(session):
            session.merge(TranslationCacheEntry(
                key=self._key(source), model=self.model, model_version=self.model_version,
                contract_version=CONTRACT_VERSION, glossary_version=glossary_version(),
                source_text=source, translation=translation))
            try:
                session.commit()
            except IntegrityError:  # another request stored the same chunk first: theirs is as good
                session.rollback()

    async def get(self, source: str) -> str | None:
        return await asyncio.to_thread(self._get, source)

    async def put(self, source: str, translation: str) -> None:
        await asyncio.to_thread(self._put, source, translation)


# --- translating with the engines in order ------------------------------------------------------

@dataclass
class Outcome:
    """A finished translation and who wrote it."""

    result: TranslationResult
    engine: Engine
    latency_ms: float
    fallbacks: list[Fallback] = field(default_factory=list)


Progress = Callable[[int, int], Awaitable[None]]


async def translate_with_engines(
    deid: DeidResult, engines: list[Engine], settings: Settings, sessions: sessionmaker[Session], *,
    busy_wait_s: float = 0.0, on_progress: Progress | None = None,
) -> Outcome:
    """The translation of the first engine that gives a usable one; the others are passed over and
    named in ``fallbacks``. Raises TranslationFailed (502) when the last engine's answers were
    unusable, NoEngineAvailable (503) when every engine was down or busy."""
    fallbacks: list[Fallback] = []
    failure: TranslationError | None = None
    for engine in engines:
        # Always asked: a health check is also how a vLLM engine learns which adapter version its
        # servers run, and that version keys the cache. A job (busy_wait_s > 0) waits for a busy engine.
        health = await engine.health()
        busy = "busy" in health.detail
        if not health.healthy and not (busy and busy_wait_s > 0):
            fallbacks.append(Fallback(engine.name, f"unhealthy: {health.detail}"))
            metrics.fallback(engine.name, TASK, "busy" if busy else "unhealthy")
            continue
        cache = DatabaseChunkCache(sessions, engine.model, engine.model_version) if settings.translation_cache else None
        started = time.perf_counter()
        try:
            result = await translate_deidentified(
                deid, engine_complete(engine, settings, busy_wait_s), count_tokens=count_tokens_for(engine),
                budget=settings.translation_chunk_tokens, cache=cache, on_progress=on_progress)
        except EngineBusy as exc:
            fallbacks.append(Fallback(engine.name, f"busy: {exc}"))
            metrics.fallback(engine.name, TASK, "busy")
        except EngineError as exc:
            fallbacks.append(Fallback(engine.name, f"failed: {exc}"))
            metrics.fallback(engine.name, TASK, "unsupported" if isinstance(exc, EngineUnsupported) else "error")
            logger.warning("engine %s failed to translate, falling back", engine.name)
        except ChunkingError as exc:
            raise TranslationFailed(f"the text cannot be cut into chunks: {exc} (ALTA_TRANSLATION_CHUNK_TOKENS)",
                                    "text_not_chunkable", 422) from None
        except TranslationError as exc:
            failure = exc
            fallbacks.append(Fallback(engine.name, str(exc)))
            metrics.fallback(engine.name, TASK, "malformed")
            logger.warning("engine %s: unusable translation (%s), falling back", engine.name,
                           exc.code if isinstance(exc, ChunkTranslationError) else "assembly")
        else:
            return Outcome(result, engine, (time.perf_counter() - started) * 1000, fallbacks)
    if failure is not None:
        raise TranslationFailed(f"no engine gave a usable translation: {failure}", failure.code) from None
    raise NoEngineAvailable("no engine could translate: " + "; ".join(f"{f.engine}: {f.reason}" for f in fallbacks))


# --- stored translations ------------------------------------------------------------------------

def _audit(session: Session, actor: Actor, action: str, job_id: str) -> None:
    session.add(AuditEvent(actor=actor.name, action=action, document_id=job_id, request_id=actor.request_id,
                           detail="translation"))


def _commit(session: Session) -> None:
    with write_lock(session):
        session.commit()


@dataclass(frozen=True)
class Source:
    """What a translation was made from: its kind, size and pages (never its text)."""

    kind: str  # text | pdf
    variant: str | None
    chars: int
    pages: int | None = None
    ocr_pages: int = 0


def create_job(session: Session, source: Source, *, actor: Actor, status: str = "queued") -> TranslationJob:
    now = utcnow()
    job = TranslationJob(status=status, source_kind=source.kind, source_variant=source.variant,
                         source_chars=source.chars, pages=source.pages, ocr_pages=source.ocr_pages,
                         created_by=actor.name, request_id=actor.request_id, created_at=now, heartbeat_at=now)
    session.add(job)
    session.flush()
    _audit(session, actor, "create", job.id)
    _commit(session)
    return job


def _apply_outcome(job: TranslationJob, outcome: Outcome) -> None:
    result = outcome.result
    job.status = "done"
    job.result_text = result.text
    job.chunks_total = job.chunks_done = result.chunks
    job.chunks_cached = result.cached_chunks
    job.term_accuracy = round(result.term_accuracy, 4)
    job.engine, job.model, job.model_version = outcome.engine.name, outcome.engine.model, outcome.engine.model_version
    job.latency_ms = outcome.latency_ms
    job.fallbacks_json = json.dumps([{"engine": f.engine, "reason": f.reason} for f in outcome.fallbacks])
    job.finished_at = job.heartbeat_at = utcnow()


def store_translation(session: Session, source: Source, outcome: Outcome, *, actor: Actor) -> TranslationJob:
    """A translation made in the request, stored done (and audited) in one transaction."""
    job = TranslationJob(source_kind=source.kind, source_variant=source.variant, source_chars=source.chars,
                         pages=source.pages, ocr_pages=source.ocr_pages, created_by=actor.name,
                         request_id=actor.request_id, started_at=utcnow())
    _apply_outcome(job, outcome)
    session.add(job)
    session.flush()
    _audit(session, actor, "create", job.id)
    _commit(session)
    return job


def update_job(sessions: sessionmaker[Session], job_id: str, **values: object) -> None:
    """Set columns of a job (and its heartbeat) in a short transaction of its own."""
    with sessions() as session:
        job = session.get(TranslationJob, job_id)
        if job is None:
            return
        for name, value in values.items():
            setattr(job, name, value)
        job.heartbeat_at = utcnow()
        _commit(session)


def finish_job(sessions: sessionmaker[Session], job_id: str, outcome: Outcome) -> None:
    with sessions() as session:
        job = session.get(TranslationJob, job_id)
        if job is not None:
            _apply_outcome(job, outcome)
            _commit(session)


def fail_job(sessions: sessionmaker[Session], job_id: str, code: str, detail: str) -> None:
    """Mark a job failed with a message that holds no PHI (error texts of this pipeline never do)."""
    update_job(sessions, job_id, status="failed", error_code=code[:40], error_detail=detail[:1000],
               finished_at=utcnow())


def get_job(session: Session, job_id: str, *, actor: Actor, stall_s: float, alive: set[str]) -> TranslationJob:
    """A translation by id; reading a finished one is audited (it discloses the text).

    A queued or running job that no task of this process runs and that has shown no progress for
    ``stall_s`` seconds was cut short (a restart): it is marked failed."""
    job = session.get(TranslationJob, job_id)
    if job is None:
        raise TranslationNotFound(f"no translation {job_id}")
    last_sign = job.heartbeat_at or job.created_at
    if (job.status in ("queued", "running") and job.id not in alive
            and utcnow() - last_sign > dt.timedelta(seconds=stall_s)):
        job.status, job.error_code, job.finished_at = "failed", "interrupted", utcnow()
        job.error_detail = "the job stopped making progress (the server restarted?); submit the document again"
    if job.status == "done":  # the translation (PHI) is disclosed; status polls of a running job are not audited
        _audit(session, actor, "read", job.id)
    _commit(session)
    return job
