"""Documents: store drafts, keep every version, lock on signature, audit every access."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from backend.db.models import (
    AuditEvent,
    Document,
    DocumentVersion,
    Generation,
    PatientIdentifier,
    utcnow,
)
from backend.engines.base import Draft
from backend.services.errors import DocumentLocked, DocumentNotFound, VersionConflict
from clinical.contract import canonical_json
from clinical.record import HospitalStay


@dataclass(frozen=True)
class Actor:
    """Who acts (the API key's name) and the request it happens in, for the audit trail."""

    name: str
    request_id: str


@dataclass(frozen=True)
class Fallback:
    engine: str
    reason: str


def normalise_identifier(value: str) -> str:
    """'7.654.321-6' and '76543216' find the same patient."""
    return re.sub(r"[\s.\-]", "", value).upper()


def _audit(session: Session, actor: Actor, action: str, document_id: str | None, detail: str | None = None) -> None:
    session.add(AuditEvent(actor=actor.name, action=action, document_id=document_id,
                           request_id=actor.request_id, detail=detail))


def create_document(
    session: Session, stay: HospitalStay, draft: Draft, *, actor: Actor, latency_ms: float,
    checks_ok: bool, fallbacks: list[Fallback],
) -> Document:
    """Store a new draft as version 1, with its generation and an audit event, in one transaction."""
    doc = Document(kind="epicrisis", record_json=canonical_json(stay), created_by=actor.name)
    doc.identifiers = [
        PatientIdentifier(type=i.type.value, value=normalise_identifier(i.value)) for i in stay.patient.identifiers
    ]
    doc.versions = [DocumentVersion(version=1, text=draft.text, source="engine", author=draft.engine)]
    session.add(doc)
    session.flush()
    session.add(Generation(
        document_id=doc.id, request_id=actor.request_id, task="epicrisis", engine=draft.engine,
        model=draft.model, model_version=draft.model_version, latency_ms=latency_ms, checks_ok=checks_ok,
        fallbacks_json=json.dumps([f.__dict__ for f in fallbacks]),
    ))
    _audit(session, actor, "create", doc.id)
    session.commit()
    return doc


def _load(session: Session, document_id: str, *, for_update: bool = False) -> Document:
    query = select(Document).where(Document.id == document_id).options(selectinload(Document.versions))
    if for_update:
        query = query.with_for_update()  # PostgreSQL row lock; SQLite serialises writers anyway
    doc = session.scalar(query)
    if doc is None:
        raise DocumentNotFound(f"no document with id {document_id}")
    return doc


def get_document(session: Session, document_id: str, *, actor: Actor) -> Document:
    doc = _load(session, document_id)
    _audit(session, actor, "read", doc.id)
    session.commit()
    return doc


def get_version(session: Session, document_id: str, version: int, *, actor: Actor) -> DocumentVersion:
    doc = _load(session, document_id)
    found = next((v for v in doc.versions if v.version == version), None)
    if found is None:
        raise DocumentNotFound(f"document {document_id} has no version {version}")
    _audit(session, actor, "read", doc.id, f"version {version}")
    session.commit()
    return found


def latest_generation(session: Session, document_id: str) -> Generation | None:
    return session.scalar(
        select(Generation).where(Generation.document_id == document_id).order_by(Generation.id.desc()).limit(1)
    )


def current_text(doc: Document) -> str:
    return next(v.text for v in doc.versions if v.version == doc.current_version)


def update_document(
    session: Session, document_id: str, *, text: str, base_version: int, author: str, actor: Actor
) -> Document:
    """A clinician's edit becomes a new version; editing a stale version is refused, not merged."""
    doc = _load(session, document_id, for_update=True)
    if doc.status == "signed":
        raise DocumentLocked("the document is signed and can no longer be edited")
    if base_version != doc.current_version:
        raise VersionConflict(
            f"base_version {base_version} is not the current version {doc.current_version}; "
            "reload the document and apply the edit to the current version"
        )
    doc.current_version += 1
    doc.updated_at = utcnow()
    doc.versions.append(DocumentVersion(version=doc.current_version, text=text, source="clinician", author=author))
    _audit(session, actor, "edit", doc.id, f"version {doc.current_version}")
    session.commit()
    return doc


def sign_document(session: Session, document_id: str, *, version: int, signed_by: str, actor: Actor) -> Document:
    """Sign the version the clinician read; the document is locked afterwards."""
    doc = _load(session, document_id, for_update=True)
    if doc.status == "signed":
        raise DocumentLocked("the document is already signed")
    if version != doc.current_version:
        raise VersionConflict(
            f"version {version} is not the current version {doc.current_version}; "
            "review the current version before signing"
        )
    doc.status = "signed"
    doc.signed_at = doc.updated_at = utcnow()
    doc.signed_by = signed_by
    _audit(session, actor, "sign", doc.id, f"version {version}")
    session.commit()
    return doc


def search_documents(
    session: Session, *, patient: str | None, limit: int, offset: int, actor: Actor
) -> tuple[list[Document], int]:
    """Documents, newest first, optionally of the patient with this identifier (any type)."""
    query = select(Document)
    if patient is not None:
        ids = select(PatientIdentifier.document_id).where(PatientIdentifier.value == normalise_identifier(patient))
        query = query.where(Document.id.in_(ids))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    docs = list(session.scalars(
        query.order_by(Document.created_at.desc(), Document.id).limit(limit).offset(offset)
    ))
    # The identifier searched for is patient data: the audit keeps the count, not the query.
    _audit(session, actor, "search", None, f"{len(docs)} of {total} results")
    session.commit()
    return docs, total
