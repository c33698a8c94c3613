"""Tables: documents and their versions, generations, the audit trail, API keys, translations.

Patient data lives only in ``documents.record_json``, ``document_versions.text``,
``patient_identifiers`` and ``translation_jobs.result_text``; the audit trail and generations hold
ids, names of API keys and timings; ``translation_cache`` holds de-identified text only.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def new_id() -> str:
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    pass


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True, index=True)
    secret_sha256: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[str] = mapped_column(String(200), doc="space-separated")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None]


class User(Base):
    """A person who uses Alta: a clinician, a nurse, an administrator. Holds no patient data.

    ``password_hash`` is an argon2id PHC string; the password itself is never stored or logged.
    """

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), doc="as printed under a signature, e.g. 'Dra. Ana Pérez'")
    registry_type: Mapped[str | None] = mapped_column(String(40), doc="RNPI (Chile), cédula profesional (México)")
    registry_number: Mapped[str | None] = mapped_column(String(40))
    role: Mapped[str] = mapped_column(String(20))  # medico | enfermeria | administrativo | administrador
    active: Mapped[bool] = mapped_column(default=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class UserSession(Base):
    """A signed-in browser: the cookie holds a random token, the table only its sha256."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)
    reauth_at: Mapped[dt.datetime | None] = mapped_column(doc="when the password was last entered again to sign")
    revoked_at: Mapped[dt.datetime | None]


class Document(Base):
    __tablename__ = "documents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(20), default="epicrisis")
    status: Mapped[str] = mapped_column(String(10), default="draft")  # draft | signed
    record_json: Mapped[str] = mapped_column(Text)
    current_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100))
    signed_at: Mapped[dt.datetime | None]
    signed_by: Mapped[str | None] = mapped_column(String(200))
    # The signer as a person (issue 18): the user's id and, copied at signing so a later change of
    # the user's record does not rewrite a signed document, the professional registry number.
    signer_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    signer_registry_type: Mapped[str | None] = mapped_column(String(40))
    signer_registry_number: Mapped[str | None] = mapped_column(String(40))
    signed_via_key: Mapped[str | None] = mapped_column(String(100), doc="the EHR key that carried the signature")
    # Optimistic concurrency: every UPDATE checks and bumps it, so of two requests that read the
    # same state and both edit or sign, the second fails instead of overwriting the first.
    row_version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": row_version}

    versions: Mapped[list[DocumentVersion]] = relationship(
        back_populates="document", order_by="DocumentVersion.version", cascade="all, delete-orphan"
    )
    identifiers: Mapped[list[PatientIdentifier]] = relationship(cascade="all, delete-orphan")


class PatientIdentifier(Base):
    """The patient's identifiers, normalised, so a document can be found by RUT, CURP or NHC."""

    __tablename__ = "patient_identifiers"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(String(40), index=True)


class DocumentVersion(Base):
    __tablename__ = "document_versions"
    __table_args__ = (UniqueConstraint("document_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    version: Mapped[int]
    text: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(20))  # engine | clinician
    author: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    document: Mapped[Document] = relationship(back_populates="versions")


class Generation(Base):
    """One engine run: which engine and model wrote a draft, how long it took, what it passed over."""

    __tablename__ = "generations"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[str | None] = mapped_column(ForeignKey("documents.id", ondelete="SET NULL"), index=True)
    request_id: Mapped[str] = mapped_column(String(64))
    task: Mapped[str] = mapped_column(String(20))
    engine: Mapped[str] = mapped_column(String(40))
    model: Mapped[str] = mapped_column(String(200))
    model_version: Mapped[str] = mapped_column(String(100))
    latency_ms: Mapped[float]
    checks_ok: Mapped[bool]
    demo: Mapped[bool] = mapped_column(default=False, server_default=false())  # a demonstration model wrote it
    fallbacks_json: Mapped[str] = mapped_column(Text, default="[]")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AuditEvent(Base):
    """Who did what to which document, when. Holds no patient data."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_document_at", "document_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(20))  # create | read | edit | sign | search
    document_id: Mapped[str | None] = mapped_column(String(36))
    request_id: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(String(200))
    user_id: Mapped[int | None] = mapped_column(index=True, doc="the signed-in user; NULL when an API key acted")


class TranslationJob(Base):
    """One translation request, answered at once or run as a job, and its result.

    ``result_text`` is the re-identified translation: a clinical document holding the patient's
    PHI again, kept as ``document_versions.text`` is (the client fetches it, as text or PDF, by id).
    Nothing else here is PHI: the source text, the PDF and the placeholder mapping are never stored
    (a job holds them in memory while it runs), and ``error_detail`` names placeholders, never values.
    """

    __tablename__ = "translation_jobs"
    __table_args__ = (Index("ix_translation_jobs_created_at", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    status: Mapped[str] = mapped_column(String(10), default="queued")  # queued | running | done | failed
    source_kind: Mapped[str] = mapped_column(String(10))  # text | pdf
    source_variant: Mapped[str | None] = mapped_column(String(10))  # es-MX | es-CL | es-ES
    source_chars: Mapped[int] = mapped_column(default=0)
    pages: Mapped[int | None]
    ocr_pages: Mapped[int] = mapped_column(default=0)
    chunks_total: Mapped[int] = mapped_column(default=0)
    chunks_done: Mapped[int] = mapped_column(default=0)
    chunks_cached: Mapped[int] = mapped_column(default=0)
    result_text: Mapped[str | None] = mapped_column(Text)
    engine: Mapped[str | None] = mapped_column(String(40))
    model: Mapped[str | None] = mapped_column(String(200))
    model_version: Mapped[str | None] = mapped_column(String(100))
    latency_ms: Mapped[float | None]
    term_accuracy: Mapped[float | None]
    fallbacks_json: Mapped[str] = mapped_column(Text, default="[]")
    error_code: Mapped[str | None] = mapped_column(String(40))
    error_detail: Mapped[str | None] = mapped_column(String(1000))
    created_by: Mapped[str] = mapped_column(String(100))
    request_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None]
    heartbeat_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]


class TranslationCacheEntry(Base):
    """A checked translation of one de-identified chunk by one model: de-identified text only.

    ``key`` is ``clinical.translate.cache_key``: sha256 of the chunk, model, model version, prompt
    contract version and glossary version. Rows are shared by every document that has the same
    chunk, so they can never hold PHI (a placeholder stands for it) and are never re-identified.
    """

    __tablename__ = "translation_cache"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    model: Mapped[str] = mapped_column(String(200))
    model_version: Mapped[str] = mapped_column(String(100))
    contract_version: Mapped[str] = mapped_column(String(20))
    glossary_version: Mapped[str] = mapped_column(String(20))
    source_text: Mapped[str] = mapped_column(Text)
    translation: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class IdempotencyKey(Base):
    """An ``Idempotency-Key`` a client sent with a document-creating POST, and the document it made.

    Stored in the same transaction as the document, so a retry after a crash between the commit
    and the answer finds it and gets that document instead of a second one. The key itself is the
    client's text and could hold anything: only its sha256 is kept, with the body's.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("api_key", "key_sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    api_key: Mapped[str] = mapped_column(String(100), doc="the API key's name: keys are per client")
    key_sha256: Mapped[str] = mapped_column(String(64))
    request_sha256: Mapped[str] = mapped_column(String(64), doc="route and canonical body")
    document_id: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)
