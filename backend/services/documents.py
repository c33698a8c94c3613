"""Documents: store drafts, keep every version, lock on signature, audit every access."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.exc import StaleDataError

from backend.db.models import (
    AuditEvent,
    Document,
    DocumentVersion,
    Generation,
    PatientIdentifier,
    User,
    new_id,
    utcnow,
)
from backend.db.session import write_lock
from backend.engines.base import Draft
from backend.services.errors import DocumentLocked, DocumentNotFound, UnresolvedFindings, VersionConflict
from backend.services.users import Signer
from clinical.checks import CheckReport, check_draft
from clinical.contract import canonical_json
from clinical.record import HospitalStay


@dataclass(frozen=True)
class Actor:
    """Who acts (the API key's name, or ``user:<username>`` with the user's id) and the request it
    happens in, for the audit trail."""

    name: str
    request_id: str
    user_id: int | None = None


@dataclass(frozen=True)
class Fallback:
    engine: str
    reason: str


def normalise_identifier(value: str) -> str:
    """'7.654.321-6' and '76543216' find the same patient."""
    return re.sub(r"[\s.\-]", "", value).upper()


def _audit(session: Session, actor: Actor, action: str, document_id: str | None, detail: str | None = None) -> None:
    session.add(AuditEvent(actor=actor.name, action=action, document_id=document_id,
                           request_id=actor.request_id, detail=detail, user_id=actor.user_id))


def _commit(session: Session) -> None:
    # Every write of these services happens in the commit's flush, so this covers the whole
    # write transaction.
    with write_lock(session):
        try:
            session.commit()
        except (StaleDataError, IntegrityError):
            # Another request changed the document between our read and this write.
            session.rollback()
            raise VersionConflict("the document changed while this request was made; reload it and retry") from None


def create_document(
    session: Session, stay: HospitalStay, draft: Draft, *, actor: Actor, latency_ms: float,
    checks_ok: bool, fallbacks: list[Fallback],
) -> Document:
    """Store a new draft as version 1, with its generation and an audit event, in one transaction."""
    doc = Document(id=new_id(), kind="epicrisis", record_json=canonical_json(stay), created_by=actor.name)
    doc.identifiers = [
        PatientIdentifier(type=i.type.value, value=normalise_identifier(i.value)) for i in stay.patient.identifiers
    ]
    doc.versions = [DocumentVersion(version=1, text=draft.text, source="engine", author=draft.engine)]
    session.add(doc)
    session.add(Generation(
        document_id=doc.id, request_id=actor.request_id, task="epicrisis", engine=draft.engine,
        model=draft.model, model_version=draft.model_version, latency_ms=latency_ms, checks_ok=checks_ok,
        demo=draft.demo, fallbacks_json=json.dumps([f.__dict__ for f in fallbacks]),
    ))
    _audit(session, actor, "create", doc.id)
    _commit(session)
    return doc


def _load(session: Session, document_id: str, *, for_update: bool = False) -> Document:
    query = select(Document).where(Document.id == document_id).options(selectinload(Document.versions))
    if for_update:
        query = query.with_for_update()  # PostgreSQL row lock; SQLite serialises writers anyway
    doc = session.scalar(query)
    if doc is None:
        # The id is not one of ours, so it is whatever the client put in the path (a RUT, a name):
        # the error does not repeat it.
        raise DocumentNotFound("no document with the id in the path; GET /api/v1/documents lists them")
    return doc


def get_document(session: Session, document_id: str, *, actor: Actor) -> Document:
    doc = _load(session, document_id)
    _audit(session, actor, "read", doc.id)
    _commit(session)
    return doc


def get_version(session: Session, document_id: str, version: int, *, actor: Actor) -> DocumentVersion:
    doc = _load(session, document_id)
    found = next((v for v in doc.versions if v.version == version), None)
    if found is None:
        raise DocumentNotFound(f"document {document_id} has no version {version}")
    _audit(session, actor, "read", doc.id, f"version {version}")
    _commit(session)
    return found


def latest_generation(session: Session, document_id: str) -> Generation | None:
    return session.scalar(
        select(Generation).where(Generation.document_id == document_id).order_by(Generation.id.desc()).limit(1)
    )


def current_text(doc: Document) -> str:
    return next(v.text for v in doc.versions if v.version == doc.current_version)


def _load_unsigned_version(session: Session, document_id: str, version: int, *, locked: str, stale: str) -> Document:
    """The document, when it is unsigned and ``version`` is its current version (else 409)."""
    doc = _load(session, document_id, for_update=True)
    if doc.status == "signed":
        raise DocumentLocked(locked)
    if version != doc.current_version:
        raise VersionConflict(stale.format(given=version, current=doc.current_version))
    return doc


def update_document(
    session: Session, document_id: str, *, text: str, base_version: int, author: str, actor: Actor
) -> Document:
    """A clinician's edit becomes a new version; editing a stale version is refused, not merged.

    A signed-in person is the author whatever the body says (the name is theirs, not the client's
    word); an EHR key's edit keeps the author it names, and the audit records the key.
    """
    if actor.user_id is not None:
        user = session.get(User, actor.user_id)
        if user is not None:
            author = user.name
    doc = _load_unsigned_version(
        session, document_id, base_version,
        locked="the document is signed and can no longer be edited",
        stale="base_version {given} is not the current version {current}; "
              "reload the document and apply the edit to the current version",
    )
    doc.current_version += 1
    doc.updated_at = utcnow()
    doc.versions.append(DocumentVersion(version=doc.current_version, text=text, source="clinician", author=author))
    _audit(session, actor, "edit", doc.id, f"version {doc.current_version}")
    _commit(session)
    return doc


def stored_record(doc: Document) -> HospitalStay:
    """The record a document was written from, as validated when it came in."""
    # "Not in the future" is judged against the day the record arrived (created_at is UTC; a
    # day's margin covers hospitals ahead of UTC), not today: an old record stays valid.
    arrived = doc.created_at.date() + dt.timedelta(days=1)
    return HospitalStay.model_validate_json(doc.record_json, context={"today": arrived})


def check_current(doc: Document) -> CheckReport:
    return check_draft(stored_record(doc), current_text(doc))


def sign_document(
    session: Session, document_id: str, *, version: int, signer: Signer, acknowledge_findings: bool, actor: Actor
) -> Document:
    """Sign the version the clinician read, as ``signer`` (a person, checked by the caller); the
    document is locked afterwards and records the signer's id, name and registry number.

    A text the output checks flag is signed only with ``acknowledge_findings``: the clinician
    has seen what is missing or unsupported and signs anyway, and the audit trail says so.
    """
    doc = _load_unsigned_version(
        session, document_id, version,
        locked="the document is already signed",
        stale="version {given} is not the current version {current}; review the current version before signing",
    )
    findings = len(check_current(doc).findings)
    if findings and not acknowledge_findings:
        raise UnresolvedFindings(
            f"the output checks report {findings} findings on version {version}; resolve them, "
            "or sign with acknowledge_findings=true after reviewing them"
        )
    doc.status = "signed"
    doc.signed_at = doc.updated_at = utcnow()
    doc.signed_by = signer.name
    doc.signer_user_id = signer.user_id
    doc.signer_registry_type, doc.signer_registry_number = signer.registry_type, signer.registry_number
    doc.signed_via_key = signer.via_key
    detail = (f"version {version}, signer user {signer.user_id}"
              + (f" via key {signer.via_key}" if signer.via_key else "")
              + (f", {findings} findings acknowledged" if findings else ""))[:200]
    _audit(session, actor, "sign", doc.id, detail)
    _commit(session)
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
    # The identifier searched for is patient data: the audit keeps the count, not the query. Each
    # document listed is disclosed (its diagnosis is in the summary): it gets its own "list" event,
    # so a document's trail answers "who has seen this patient's documents".
    _audit(session, actor, "search", None, f"{len(docs)} of {total} results")
    for doc in docs:
        _audit(session, actor, "list", doc.id)
    _commit(session)
    return docs, total
