"""Drafts written in the clinician's browser (Transformers.js), stored under the id the browser chose.

A browser that drafts offline keeps the draft in IndexedDB and sends it when the server is
reachable again, retrying after every failure it cannot tell apart from "not sent" (a timeout may
hide a request that was stored). So the id is the browser's UUID and storing is idempotent on it:
the same id with the same record, text and provenance is the document already stored (nothing sent
twice); the same id with anything else is a conflict (nothing overwritten). No schema change: the
documents table's primary key is already a String(36) UUID.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from backend.db.models import AuditEvent, Document, DocumentVersion, Generation, PatientIdentifier
from backend.db.session import write_lock
from backend.services.documents import Actor, check_current, normalise_identifier
from backend.services.errors import DomainError
from clinical.checks import CheckReport, check_draft
from clinical.contract import canonical_json
from clinical.record import HospitalStay

BROWSER_ENGINE = "transformers.js"


class ClientDraftConflict(DomainError):
    """A different draft is already stored under the id the browser sent."""

    status_code = 409
    code = "client_draft_conflict"


@dataclass(frozen=True)
class BrowserProvenance:
    """Which bundle, dtype and device wrote the draft in the browser, and how long it took."""

    model: str
    model_version: str  # the bundle's version
    dtype: str
    device: str  # "wasm" or "webgpu"
    latency_ms: float
    demo: bool = False  # the catalog marks the bundle as a demonstration model

    @property
    def stored_version(self) -> str:
        # As the ONNX engine records its drafts: "<bundle version>-<dtype>".
        return f"{self.model_version}-{self.dtype}"


@dataclass(frozen=True)
class StoredDraft:
    document: Document
    checks: CheckReport
    created: bool  # False: this id was already stored with the same content


def _same_content(session: Session, doc: Document, record_json: str, text: str, prov: BrowserProvenance) -> bool:
    first = next((v for v in doc.versions if v.version == 1), None)
    generation = session.scalar(select(Generation).where(Generation.document_id == doc.id)
                                .order_by(Generation.id).limit(1))
    return (doc.record_json == record_json and first is not None and first.text == text
            and generation is not None and generation.engine == BROWSER_ENGINE
            and generation.model == prov.model and generation.model_version == prov.stored_version)


def _existing(session: Session, document_id: str, record_json: str, text: str,
              prov: BrowserProvenance) -> Document | None:
    """The document already stored under ``document_id`` if it is this draft; a conflict if it is another."""
    doc = session.get(Document, document_id, options=[selectinload(Document.versions)], populate_existing=True)
    if doc is None:
        return None
    if not _same_content(session, doc, record_json, text, prov):
        raise ClientDraftConflict(
            f"document {document_id} already exists with different content; a new draft needs a new id "
            "(crypto.randomUUID())")
    return doc


def store_client_draft(session: Session, document_id: str, stay: HospitalStay, text: str,
                       prov: BrowserProvenance, *, actor: Actor) -> StoredDraft:
    """Store the browser's draft as version 1 of document ``document_id``, or return it if already stored.

    The output checks run here as for engine drafts, so a browser draft is signed under the same rules.
    """
    record_json = canonical_json(stay)
    checks = check_draft(stay, text)
    found = _existing(session, document_id, record_json, text, prov)
    if found is not None:
        return _resent(session, found, actor)
    doc = Document(id=document_id, kind="epicrisis", record_json=record_json, created_by=actor.name)
    doc.identifiers = [PatientIdentifier(type=i.type.value, value=normalise_identifier(i.value))
                       for i in stay.patient.identifiers]
    doc.versions = [DocumentVersion(version=1, text=text, source="engine", author=BROWSER_ENGINE)]
    session.add(doc)
    session.add(Generation(
        document_id=document_id, request_id=actor.request_id, task="epicrisis", engine=BROWSER_ENGINE,
        model=prov.model, model_version=prov.stored_version, latency_ms=prov.latency_ms, checks_ok=checks.ok,
        demo=prov.demo, fallbacks_json="[]",
    ))
    session.add(AuditEvent(actor=actor.name, action="create", document_id=document_id, request_id=actor.request_id,
                           detail=f"browser draft ({prov.device})"))
    with write_lock(session):
        try:
            session.commit()
        except IntegrityError:
            # The same id arrived twice at once (a retry racing the first send): the other request
            # stored it; answer as for a retry, or a conflict if it was another draft.
            session.rollback()
            found = _existing(session, document_id, record_json, text, prov)
            if found is None:
                raise
            return _resent(session, found, actor)
    return StoredDraft(doc, checks, created=True)


def _resent(session: Session, doc: Document, actor: Actor) -> StoredDraft:
    """A retry gets the stored document back (its current version), which the audit trail records as a read."""
    session.add(AuditEvent(actor=actor.name, action="read", document_id=doc.id, request_id=actor.request_id,
                           detail="browser draft sent again"))
    with write_lock(session):
        session.commit()
    return StoredDraft(doc, check_current(doc), created=False)


