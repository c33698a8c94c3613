"""A document's audit trail (administrators) and the page's print event."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status
from pydantic import AfterValidator, BaseModel

from backend.api.deps import AdminCaller, PrintCaller, SessionDep, release
from backend.api.errors import error_responses
from backend.services import audit

router = APIRouter(prefix="/api/v1/documents", tags=["audit"], responses=error_responses(401, 403, 404))

DocumentId = Annotated[str, Path(min_length=1, max_length=36, description="the document's id")]


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


class AuditEventOut(BaseModel):
    at: Annotated[dt.datetime, AfterValidator(_utc)]
    action: str
    actor: str
    actor_kind: str
    user_id: int | None
    user_name: str | None
    user_registry: str | None
    detail: str | None
    request_id: str


@router.get("/{document_id}/audit", response_model=list[AuditEventOut],
            summary="A document's audit trail: who read, edited, printed and signed it (administrators)")
def document_audit(document_id: DocumentId, session: SessionDep, _admin: AdminCaller) -> list[AuditEventOut]:
    out = [AuditEventOut(at=e.at, action=e.action, actor=e.actor, actor_kind="user" if e.user_id else "key",
                         user_id=e.user_id, user_name=u.name if u else None,
                         user_registry=f"{u.registry_type} {u.registry_number}" if u and u.registry_number else None,
                         detail=e.detail, request_id=e.request_id)
           for e, u in audit.document_trail(session, document_id)]
    release(session)
    return out


@router.post("/{document_id}/print", status_code=status.HTTP_204_NO_CONTENT,
             summary="Record that the page printed a document (the audit trail's print event)")
def record_print(document_id: DocumentId, session: SessionDep, caller: PrintCaller, request: Request) -> Response:
    audit.record_print(session, document_id, actor=caller.actor(request.state.request_id))
    release(session)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
