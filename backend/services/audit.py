"""A document's audit trail for administrators, and the print event the page records."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db.models import AuditEvent, Document, User
from backend.db.session import write_lock
from backend.services.documents import Actor
from backend.services.errors import DocumentNotFound


def _exists(session: Session, document_id: str) -> None:
    if session.get(Document, document_id) is None:
        raise DocumentNotFound("no document with the id in the path; GET /api/v1/documents lists them")


def document_trail(session: Session, document_id: str) -> list[tuple[AuditEvent, User | None]]:
    """Every event of one document, oldest first, with the user who acted (None: an API key)."""
    _exists(session, document_id)
    rows = session.execute(
        select(AuditEvent, User).outerjoin(User, User.id == AuditEvent.user_id)
        .where(AuditEvent.document_id == document_id).order_by(AuditEvent.at, AuditEvent.id)
    )
    return [(event, user) for event, user in rows]


def record_print(session: Session, document_id: str, *, actor: Actor) -> None:
    _exists(session, document_id)
    session.add(AuditEvent(actor=actor.name, action="print", document_id=document_id,
                           request_id=actor.request_id, user_id=actor.user_id))
    with write_lock(session):
        session.commit()
