"""POST /api/v1/epicrisis and its streaming twin: a record in, a stored draft out."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from backend.api.deps import GenerateActor, RegistryDep
from backend.api.schemas import DocumentOut, EpicrisisIn
from backend.engines.base import Draft
from backend.services import documents as docs
from backend.services.epicrisis import pick_streaming_engine, write_draft
from clinical.checks import CheckReport, check_draft

router = APIRouter(prefix="/api/v1/epicrisis", tags=["epicrisis"])


def _store_and_describe(request: Request, body: EpicrisisIn, draft: Draft, checks: CheckReport,
                        actor: docs.Actor, latency_ms: float, fallbacks: list[docs.Fallback]) -> DocumentOut:
    with request.app.state.sessionmaker() as session:
        doc = docs.create_document(session, body.record, draft, actor=actor, latency_ms=latency_ms,
                                   checks_ok=checks.ok, fallbacks=fallbacks)
        return DocumentOut.of(doc, draft.text, checks, docs.latest_generation(session, doc.id))


@router.post("", status_code=status.HTTP_201_CREATED, response_model=DocumentOut,
             summary="Write and store an epicrisis draft")
async def create_epicrisis(body: EpicrisisIn, request: Request, response: Response,
                           registry: RegistryDep, actor: GenerateActor) -> DocumentOut:
    """Writes a draft from the record with the first engine that can, runs the output checks and
    stores it as version 1 of a new document. ``provenance`` says which engine wrote it."""
    result = await write_draft(body.record, registry, body.engine)
    out = await run_in_threadpool(_store_and_describe, request, body, result.draft, result.checks, actor,
                                  result.latency_ms, result.fallbacks)
    response.headers["Location"] = f"/api/v1/documents/{out.id}"
    response.headers["X-Alta-Engine"] = result.draft.engine
    return out


def _sse(event: str, data: object) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n"


@router.post("/stream", summary="Write an epicrisis draft, streamed as Server-Sent Events",
             response_class=StreamingResponse,
             responses={200: {"content": {"text/event-stream": {}},
                              "description": "`event: chunk` {\"text\"} as written, then `event: done` with "
                                             "the stored document (as POST /api/v1/epicrisis returns it)"}})
async def stream_epicrisis(body: EpicrisisIn, request: Request, registry: RegistryDep,
                           actor: GenerateActor) -> StreamingResponse:
    engine, fallbacks = await pick_streaming_engine(registry, body.engine)

    async def events() -> AsyncIterator[str]:
        started = time.perf_counter()
        parts: list[str] = []
        yield _sse("start", {"engine": engine.name, "model": engine.model})
        async for chunk in engine.stream(body.record):
            parts.append(chunk)
            yield _sse("chunk", {"text": chunk})
        draft = Draft("".join(parts), engine.name, engine.model, engine.model_version)
        latency_ms = (time.perf_counter() - started) * 1000
        checks = check_draft(body.record, draft.text)
        out = await run_in_threadpool(_store_and_describe, request, body, draft, checks, actor, latency_ms, fallbacks)
        yield _sse("done", out.model_dump(mode="json"))

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no",
                                      "X-Alta-Engine": engine.name})
