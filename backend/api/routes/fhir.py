"""GET /api/v1/documents/{id}/fhir: a stored epicrisis as a FHIR R4 document Bundle.

A path of its own rather than ``Accept`` negotiation on ``GET /api/v1/documents/{id}``: the two
answers are different resources (Alta's document with its checks and versions, versus a FHIR
document), caches and proxies key on the path, and an EHR can be pointed at one URL.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.api.deps import ReadActor, SessionDep, release
from backend.api.routes.documents import DocumentId
from backend.db.models import AuditEvent, Document
from backend.services import documents as docs
from clinical.fhir import DocumentFacts, Edit, document_bundle
from clinical.fhir.codes import DISCHARGE_SUMMARY, EU_HOSPITAL_DISCHARGE_REPORT

FHIR_JSON = "application/fhir+json"
router = APIRouter(prefix="/api/v1/documents", tags=["fhir"])

_DOCUMENT_SCHEMA: dict[str, Any] = {
    "type": "object", "description": "FHIR R4 Bundle of type document",
    "properties": {"resourceType": {"type": "string", "enum": ["Bundle"]},
                   "type": {"type": "string", "enum": ["document"]}, "entry": {"type": "array", "items": {"type": "object"}}},
}


def _facts(session: Session, doc: Document) -> DocumentFacts:
    generation = docs.latest_generation(session, doc.id)
    signed_with = session.scalar(select(AuditEvent.actor).where(
        AuditEvent.document_id == doc.id, AuditEvent.action == "sign").order_by(AuditEvent.id.desc()).limit(1))
    first = next(v for v in doc.versions if v.version == 1)
    return DocumentFacts(
        id=doc.id, version=doc.current_version, text=docs.current_text(doc), signed=doc.status == "signed",
        created_at=doc.created_at, updated_at=doc.updated_at, created_by=doc.created_by,
        engine=generation.engine if generation else first.author,
        model=generation.model if generation else "unknown",
        model_version=generation.model_version if generation else "unknown",
        edits=[Edit(v.version, v.source, v.author, v.created_at) for v in doc.versions],  # type: ignore[arg-type]
        signed_by=doc.signed_by, signed_at=doc.signed_at, signed_with=signed_with,
    )


def _offset(value: str | None) -> dt.tzinfo:
    if value is None:
        return dt.UTC
    sign = -1 if value[0] == "-" else 1
    hours, minutes = int(value[1:3]), int(value[4:6])
    return dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))


@router.get(
    "/{document_id}/fhir", response_class=Response, summary="Read a document as a FHIR R4 document Bundle",
    responses={200: {"content": {FHIR_JSON: {"schema": _DOCUMENT_SCHEMA}},
                     "description": "Bundle (type document): Composition (status preliminary until signed, then final "
                                    "with attester), Patient, Encounter, the coded entries, Provenance, DocumentReference"}},
)
def read_document_fhir(
    document_id: DocumentId, session: SessionDep, actor: ReadActor,
    composition_type: Annotated[Literal["18842-5", "34105-7"], Query(
        alias="type", description=f"Composition.type (LOINC): {DISCHARGE_SUMMARY} Discharge summary, or "
                                  f"{EU_HOSPITAL_DISCHARGE_REPORT} for the EU hospital discharge report")] = "18842-5",
    utc_offset: Annotated[str | None, Query(
        pattern=r"^[+-](0\d|1[0-4]):[0-5]\d$",
        description="the hospital's UTC offset (e.g. -03:00) for the stay's times, which Alta keeps as wall-clock "
                    "times; default +00:00")] = None,
) -> Response:
    """The current version with its record, authorship and sign-off, as an EHR files it. Audited as a read."""
    doc = docs.get_document(session, document_id, actor=actor)
    facts = _facts(session, doc)
    stay = docs.stored_record(doc)
    release(session)
    bundle = document_bundle(stay, facts, composition_type=composition_type, utc_offset=_offset(utc_offset))
    return Response(json.dumps(bundle, ensure_ascii=False), media_type=FHIR_JSON)
