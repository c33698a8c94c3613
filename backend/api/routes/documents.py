"""Stored documents: read, list by patient, edit (new version), sign (locks)."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from backend.api import auth
from backend.api.deps import GenerateActor, PrincipalDep, ReadActor, SessionDep, release
from backend.api.errors import error_responses
from backend.api.schemas import (
    DocumentList,
    DocumentOut,
    DocumentSummary,
    DocumentUpdate,
    SignIn,
    VersionTextOut,
)
from backend.db.models import Document
from backend.services import documents as docs

router = APIRouter(prefix="/api/v1/documents", tags=["documents"], responses=error_responses(409))

DocumentId = Annotated[str, Path(min_length=1, max_length=36, description="the document's id")]
MAX_OFFSET = 1_000_000_000
"""Bounded so the database never sees an integer it cannot hold (SQLite's are 64-bit: 2**63 was a 500)."""
MAX_VERSION = 2**31 - 1


def _out(session: SessionDep, doc: Document) -> DocumentOut:
    out = DocumentOut.of(doc, docs.current_text(doc), docs.check_current(doc), docs.latest_generation(session, doc.id))
    release(session)
    return out


@router.get("/{document_id}", response_model=DocumentOut, summary="Read a document's current version")
def read_document(document_id: DocumentId, session: SessionDep, actor: ReadActor) -> DocumentOut:
    return _out(session, docs.get_document(session, document_id, actor=actor))


@router.get("/{document_id}/versions/{version}", response_model=VersionTextOut, summary="Read an earlier version")
def read_version(document_id: DocumentId, version: Annotated[int, Path(ge=1, le=MAX_VERSION)], session: SessionDep,
                 actor: ReadActor) -> VersionTextOut:
    v = docs.get_version(session, document_id, version, actor=actor)
    release(session)
    return VersionTextOut(version=v.version, source=v.source, author=v.author, created_at=v.created_at, text=v.text)


@router.put("/{document_id}", response_model=DocumentOut, summary="Save a clinician's edit as a new version")
def update_document(document_id: DocumentId, body: DocumentUpdate, session: SessionDep,
                    actor: GenerateActor) -> DocumentOut:
    """The edit must name the version it was made on (``base_version``): editing a version that is
    no longer current gets 409 instead of overwriting someone else's edit."""
    doc = docs.update_document(session, document_id, text=body.text, base_version=body.base_version,
                               author=body.author, actor=actor)
    return _out(session, doc)


@router.post("/{document_id}/sign", response_model=DocumentOut, summary="Sign a document; it is locked afterwards",
             responses=error_responses(403, 429))
def sign_document(document_id: DocumentId, body: SignIn, session: SessionDep, caller: PrincipalDep,
                  request: Request) -> DocumentOut:
    """Signing a text with output-check findings needs ``acknowledge_findings: true`` (else 409).

    The signature is the signed-in médico's (password again within ``ALTA_SIGN_REAUTH_S``, else 403
    ``reauth_required``), or an EHR key's on behalf of the médico in ``username`` with their password."""
    signer = auth.signer_for(session, caller, username=body.username, password=body.password,
                             settings=request.app.state.settings)
    doc = docs.sign_document(session, document_id, version=body.version, signer=signer,
                             acknowledge_findings=body.acknowledge_findings,
                             actor=caller.actor(request.state.request_id))
    return _out(session, doc)


@router.get("", response_model=DocumentList, summary="List documents, optionally by patient identifier")
def list_documents(
    session: SessionDep, actor: ReadActor,
    patient: Annotated[str | None, Query(min_length=1, max_length=40,
                                         description="RUT, CURP, NHC... (dots and hyphens ignored)")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="documents to skip, newest first")] = 0,
) -> DocumentList:
    found, total = docs.search_documents(session, patient=patient, limit=limit, offset=offset, actor=actor)
    items = []
    for d in found:
        record = json.loads(d.record_json)
        principal = next(x for x in record["diagnoses"] if x["kind"] == "principal")
        items.append(DocumentSummary(id=d.id, status=d.status, version=d.current_version,
                                     principal_diagnosis=f"{principal['description']} ({principal['code']})",
                                     created_at=d.created_at, updated_at=d.updated_at))
    release(session)
    return DocumentList(items=items, total=total, limit=limit, offset=offset)
