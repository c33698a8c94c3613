"""Stored translations: one ``translation_jobs`` row per translation, with its status and, once done,
the re-identified text (a clinical document, PHI, kept like ``document_versions.text`` so the
client can fetch it as text or PDF). The source text, the uploaded PDF and the placeholder mapping
are never written: a job holds them in memory while it runs, so a job cut short by a restart is
reported failed ("submit again") instead of resumed."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from backend.db.models import AuditEvent, TranslationJob, utcnow
from backend.db.session import write_lock
from backend.engines.base import Engine
from backend.services.documents import Actor, Fallback
from backend.services.errors import TranslationNotFound
from clinical.translate import TranslationResult


@dataclass(frozen=True)
class Source:
    """What a translation was made from: its kind, size and pages (never its text)."""

    kind: str  # text | pdf
    variant: str | None
    chars: int
    pages: int | None = None
    ocr_pages: int = 0


@dataclass
class Outcome:
    """A finished translation and who wrote it."""

    result: TranslationResult
    engine: Engine
    latency_ms: float
    fallbacks: list[Fallback] = field(default_factory=list)


def _audit(session: Session, actor: Actor, action: str, job_id: str) -> None:
    session.add(AuditEvent(actor=actor.name, action=action, document_id=job_id, request_id=actor.request_id,
                           detail="translation"))


def _commit(session: Session) -> None:
    with write_lock(session):
        session.commit()


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
        raise TranslationNotFound("no translation with the id in the path (it is not repeated: it may be patient data)")
    last_sign = job.heartbeat_at or job.created_at
    if (job.status in ("queued", "running") and job.id not in alive
            and utcnow() - last_sign > dt.timedelta(seconds=stall_s)):
        job.status, job.error_code, job.finished_at = "failed", "interrupted", utcnow()
        job.error_detail = "the job stopped making progress (the server restarted?); submit the document again"
    if job.status == "done":  # the translation (PHI) is disclosed; status polls of a running job are not audited
        _audit(session, actor, "read", job.id)
    _commit(session)
    return job
