"""POST /api/v1/epicrisis and its streaming twin: a record in, a stored draft out."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from backend.api.deps import GenerateActor, RegistryDep
from backend.api.errors import error_responses
from backend.api.fhir_body import EpicrisisBody  # Alta's JSON or a FHIR R4 Bundle (application/fhir+json)
from backend.api.schemas import DocumentOut, EpicrisisIn
from backend.engines.registry import EngineRegistry
from backend.services import documents as docs
from backend.services import idempotency
from backend.services.admission import AdmissionDep
from backend.services.epicrisis import DraftResult, StreamBroken, stream_draft, write_draft
from backend.services.errors import VersionConflict
from backend.services.idempotency import IdempotentRequest
from clinical.contract import CONTRACT_VERSION
from clinical.grammar import epicrisis_grammar

router = APIRouter(prefix="/api/v1/epicrisis", tags=["epicrisis"], responses=error_responses(429, 503))


def _store_and_describe(request: Request, body: EpicrisisIn, result: DraftResult, actor: docs.Actor,
                        idempotent: IdempotentRequest | None = None) -> DocumentOut:
    with request.app.state.sessionmaker() as session:
        if idempotent is not None:  # the key is stored in the document's own transaction
            idempotency.record_with(session, idempotent, request.app.state.settings.idempotency_ttl_s)
        doc = docs.create_document(session, body.record, result.draft, actor=actor, latency_ms=result.latency_ms,
                                   checks_ok=result.checks.ok, fallbacks=result.fallbacks)
        return DocumentOut.of(doc, result.draft.text, result.checks, docs.latest_generation(session, doc.id))


IdempotencyKeyHeader = Annotated[str | None, Header(
    alias=idempotency.HEADER, pattern=idempotency.KEY_PATTERN,
    description="a unique string of the client's (a UUID) that makes a retry safe: the same key with the same "
                "body answers the document the first request made (200, `Idempotent-Replayed: true`) instead "
                "of writing another; with another body it is a 422. Kept per API key for ALTA_IDEMPOTENCY_TTL_S.")]


def _idempotent(key: str | None, actor: docs.Actor, route: str, body: EpicrisisIn) -> IdempotentRequest | None:
    return None if key is None else IdempotentRequest.of(actor.name, key, route, body.model_dump(mode="json"))


def _replay(request: Request, idempotent: IdempotentRequest, actor: docs.Actor) -> DocumentOut | None:
    """The document this key already made (read and audited as a read), or None."""
    with request.app.state.sessionmaker() as session:
        document_id = idempotency.stored_document(session, idempotent)
        if document_id is None:
            return None
        doc = docs.get_document(session, document_id, actor=actor)
        return DocumentOut.of(doc, docs.current_text(doc), docs.check_current(doc),
                              docs.latest_generation(session, doc.id))


async def _store_once(request: Request, body: EpicrisisIn, result: DraftResult, actor: docs.Actor,
                      idempotent: IdempotentRequest | None) -> tuple[DocumentOut, bool]:
    """Store the draft, or, when a request with the same key committed first, answer its document
    (True: replayed)."""
    try:
        return await run_in_threadpool(_store_and_describe, request, body, result, actor, idempotent), False
    except VersionConflict:  # the key's unique row: a twin request with this key was stored first
        if idempotent is None or (out := await run_in_threadpool(_replay, request, idempotent, actor)) is None:
            raise
        return out, True


def _replayed_headers(response: Response, out: DocumentOut) -> None:
    response.status_code = status.HTTP_200_OK
    response.headers["Location"] = f"/api/v1/documents/{out.id}"
    response.headers["Idempotent-Replayed"] = "true"


def _known_engine(body: EpicrisisIn, registry: EngineRegistry) -> None:
    """A 422 naming ``engine`` when the client asks for an engine this server does not have."""
    if body.engine is not None and body.engine not in registry.order:
        raise RequestValidationError([{
            "loc": ("body", "engine"), "type": "unknown_engine",
            "msg": f"unknown engine; this server has: {', '.join(registry.order)} (see GET /api/v1/models)"}])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=DocumentOut,
             summary="Write and store an epicrisis draft",
             responses={200: {"model": DocumentOut, "description": "an Idempotency-Key seen before with this body: "
                                                                 "the document it made, nothing new written",
                              "headers": {"Idempotent-Replayed": {"schema": {"type": "string", "enum": ["true"]},
                                                                  "description": "the answer is a replay"}}}})
async def create_epicrisis(body: EpicrisisBody, request: Request, response: Response,
                           registry: RegistryDep, actor: GenerateActor, admission: AdmissionDep,
                           idempotency_key: IdempotencyKeyHeader = None) -> DocumentOut:
    """Writes a draft from the record with the first engine that can, reviews it against the record
    and stores it as version 1 of a new document. ``provenance`` says which engine wrote it. A model
    draft that fails the review is passed over for the next engine (the template writer last); with
    ``engine`` pinned, that engine's draft is stored with its findings (``checks.ok`` false).

    When every generation slot is busy and the queue is full the answer is 503, and a key over its
    rate limit gets 429, both with ``Retry-After``; nothing is stored for them."""
    _known_engine(body, registry)
    idempotent = _idempotent(idempotency_key, actor, router.prefix, body)
    if idempotent is not None and (out := await run_in_threadpool(_replay, request, idempotent, actor)) is not None:
        _replayed_headers(response, out)
        return out
    await admission.enter(actor.name)
    result = await write_draft(body.record, registry, body.engine)
    out, replayed = await _store_once(request, body, result, actor, idempotent)
    if replayed:
        _replayed_headers(response, out)
        return out
    response.headers["Location"] = f"/api/v1/documents/{out.id}"
    response.headers["X-Alta-Engine"] = result.draft.engine
    return out


def _sse(event: str, data: object) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n"


@router.post("/stream", summary="Write an epicrisis draft, streamed as Server-Sent Events",
             response_class=StreamingResponse,
             responses={200: {"content": {"text/event-stream": {}},
                              "description": "`event: start` {engine, model}, `event: chunk` {text} as written, "
                                             "`event: review` {ok, findings, replaced} once the text is reviewed "
                                             "against the record, `event: replaced` {engine, reason, findings, by, "
                                             "text} when the default chain threw a failing model draft away and "
                                             "the next engine wrote the one stored, then `event: done` with the "
                                             "stored document (as POST /api/v1/epicrisis returns it). An engine "
                                             "that fails before writing is reported as `event: fallback` {engine, "
                                             "reason} and the next one starts; one that fails mid-draft ends the "
                                             "stream with `event: error` (nothing stored). With `engine` pinned "
                                             "nothing is replaced: the draft is stored with its findings."}})
async def stream_epicrisis(body: EpicrisisBody, request: Request, registry: RegistryDep,
                           actor: GenerateActor, admission: AdmissionDep,
                           idempotency_key: IdempotencyKeyHeader = None) -> StreamingResponse:
    _known_engine(body, registry)
    idempotent = _idempotent(idempotency_key, actor, f"{router.prefix}/stream", body)
    if idempotent is not None and (out := await run_in_threadpool(_replay, request, idempotent, actor)) is not None:
        # The key's document, as the one event a finished stream ends with: nothing is written again.
        return StreamingResponse(iter([_sse("done", out.model_dump(mode="json"))]), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "Idempotent-Replayed": "true"})
    await admission.enter(actor.name)  # 429/503 before the stream starts; held until it ends
    events = stream_draft(body.record, registry, body.engine)
    first = await anext(events)  # NoEngineAvailable here is still a plain 503, not a broken stream

    async def encoded() -> AsyncIterator[str]:
        started = time.perf_counter()
        event = first
        while True:
            if event.kind == "start":
                yield _sse("start", {"engine": event.engine.name, "model": event.engine.model,
                                     "demo": event.engine.demo})
            elif event.kind == "chunk":
                yield _sse("chunk", {"text": event.text})
            elif event.kind == "fallback":
                yield _sse("fallback", {"engine": event.engine.name, "reason": event.text})
            else:  # reviewed by the service: the draft to store
                yield _sse("review", asdict(event.review()))
                if (replacement := event.replacement()) is not None:
                    yield _sse("replaced", asdict(replacement))
                result = event.result(latency_ms=(time.perf_counter() - started) * 1000)
                out, _replayed = await _store_once(request, body, result, actor, idempotent)
                yield _sse("done", out.model_dump(mode="json"))
                return
            try:
                event = await anext(events)
            except StreamBroken as exc:
                yield _sse("error", {"detail": str(exc), "code": "stream_broken"})
                return

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    if first.kind == "start":  # after a fallback the done event's provenance names the writer
        headers["X-Alta-Engine"] = first.engine.name
    return StreamingResponse(encoded(), media_type="text/event-stream", headers=headers)


class GrammarOut(BaseModel):
    """The record's grammar: what a constrained writer may produce for it (clinical/grammar.py)."""

    grammar: str = Field(description="xgrammar EBNF; the browser applies it with web-xgrammar, vLLM as "
                                     "structured_outputs, the ONNX engine with xgrammar")
    contract_version: str


@router.post("/grammar", response_model=GrammarOut, summary="The record's grammar, for constrained decoding")
async def record_grammar(body: EpicrisisIn, _actor: GenerateActor) -> GrammarOut:
    """What the page's in-browser model is held to for this record: the same grammar the server's
    engines use. Nothing is stored; the draft written under it is reviewed when it is saved."""
    text = await run_in_threadpool(epicrisis_grammar, body.record)
    return GrammarOut(grammar=text, contract_version=CONTRACT_VERSION)
