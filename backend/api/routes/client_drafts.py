"""POST /api/v1/documents: a draft the browser wrote (offline or not), stored once under the browser's id."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Request, Response, status
from pydantic import Field, StringConstraints

from backend.api.deps import GenerateActor, SessionDep, release
from backend.api.errors import error_responses
from backend.api.schemas import DocumentOut, Inbound
from backend.engines.bundle import demo_models
from backend.services import client_drafts
from backend.services.documents import current_text, latest_generation
from clinical.contract import example_records
from clinical.record import HospitalStay

router = APIRouter(prefix="/api/v1/documents", tags=["documents"])

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class BrowserProvenanceIn(Inbound):
    """Which bundle wrote the draft in the browser; ``engine`` is always "transformers.js"."""

    engine: Literal["transformers.js"] = Field(description="drafts from the server's engines are stored by "
                                                           "POST /api/v1/epicrisis, not here")
    model: Name = Field(description="the catalog model name (GET /api/v1/bundles)")
    model_version: Name = Field(description="the bundle's version")
    dtype: Literal["fp32", "fp16", "q4", "q4f16", "q8"]
    device: Literal["wasm", "webgpu"]
    latency_ms: float = Field(ge=0, le=86_400_000, description="time from the request to the last token")


class ClientDraftIn(Inbound):
    id: uuid.UUID = Field(description="the UUID the browser gave this draft; sending it again is harmless")
    record: HospitalStay
    text: Annotated[str, StringConstraints(min_length=1, max_length=200_000)]
    provenance: BrowserProvenanceIn

    model_config = Inbound.model_config | {"json_schema_extra": {"examples": [{
        "id": "6f1c2a52-3f0e-4c51-9b8e-0d7d1f3a9c11", "record": example_records()["minimo"],
        "text": "IDENTIFICACIÓN\n...", "provenance": {"engine": "transformers.js", "model": "demo",
                                                     "model_version": "1", "dtype": "fp32", "device": "wasm",
                                                     "latency_ms": 5300.0}}]}}


@router.post("", response_model=DocumentOut, status_code=status.HTTP_201_CREATED,
             summary="Store a draft written in the browser (idempotent on the browser's id)",
             responses={200: {"model": DocumentOut, "description": "this id was already stored with the same "
                                                                  "content (a retry): the stored document"},
                        **error_responses(409)})
def store_browser_draft(body: ClientDraftIn, session: SessionDep, actor: GenerateActor,
                        response: Response, request: Request) -> DocumentOut:
    """The browser's draft becomes version 1 of document ``id``, with the output checks run here as for
    the server's engines. Sending the same draft again answers 200 with the stored document, so an
    offline outbox can retry until it hears back without storing anything twice."""
    p = body.provenance
    stored = client_drafts.store_client_draft(
        session, str(body.id), body.record, body.text,
        client_drafts.BrowserProvenance(p.model, p.model_version, p.dtype, p.device, p.latency_ms,
                                        demo=p.model in demo_models(request.app.state.settings.models_dir)),
        actor=actor)
    doc = stored.document
    response.headers["Location"] = f"/api/v1/documents/{doc.id}"
    if not stored.created:
        response.status_code = status.HTTP_200_OK
    out = DocumentOut.of(doc, current_text(doc), stored.checks, latest_generation(session, doc.id))
    release(session)
    return out
