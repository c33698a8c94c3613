"""Alta's OpenAI-compatible surface: ``POST /v1/chat/completions`` and ``GET /v1/models``.

EHR tools that already speak the OpenAI protocol use Alta as they would use OpenAI or vLLM. The
routes are thin: the wire is ``backend.api.openai_schemas``, what a model name means and the engines'
answer are ``backend.services.chat``. The answer says who wrote it: the ``x-alta-engine`` header and
an ``alta`` field (engine, model, version, engines passed over and why), which OpenAI's clients keep
as an extra field.

Errors take OpenAI's shape, ``{"error": {"message", "type", "param", "code"}}``, so those clients
raise their usual exceptions; a bad field is a 422 whose ``param`` names it, and no error repeats
what the client sent.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from fastapi.routing import APIRoute

from backend.api.deps import GenerateActor, RegistryDep, refused_credentials
from backend.api.errors import redacted_errors, retry_after_headers, schema_names
from backend.api.openai_errors import OpenAIError, OpenAIErrorOut, openai_error
from backend.api.openai_schemas import (
    OPENAI_PARAMETERS,
    AltaOut,
    AssistantMessage,
    ChatCompletionIn,
    ChatCompletionOut,
    ChoiceOut,
    ModelCard,
    ModelList,
    UsageOut,
    completion_chunk,
    sse_data,
)
from backend.api.schemas import ChecksOut, FallbackOut
from backend.services import chat
from backend.services.admission import AdmissionDep
from backend.services.errors import DomainError


class OpenAIRoute(APIRoute):
    """Answers this router's errors (validation, auth, domain) in OpenAI's error shape."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                refused = await run_in_threadpool(refused_credentials, request)  # 401 before 422
                if refused is not None:
                    return openai_error(refused.status_code, str(refused.detail), headers=refused.headers)
                # without the rejected values, and unknown keys only when they are OpenAI's parameter names
                errors = redacted_errors(list(exc.errors()), OPENAI_PARAMETERS | schema_names(request.app))
                fields = [".".join(str(p) for p in e["loc"][1:]) or "body" for e in errors]
                message = "; ".join(f"{f}: {e['msg']}" for f, e in zip(fields, errors, strict=True))
                return openai_error(422, message, param=fields[0] if fields else None,
                                    code=errors[0]["type"] if errors else None)
            except HTTPException as exc:
                return openai_error(exc.status_code, str(exc.detail), headers=exc.headers)
            except DomainError as exc:
                return openai_error(exc.status_code, str(exc), code=exc.code, headers=retry_after_headers(exc))

        return route


_ERRORS = {status: {"model": OpenAIErrorOut} for status in (400, 401, 403, 404, 422, 429, 503)}
router = APIRouter(prefix="/v1", tags=["openai"], route_class=OpenAIRoute, responses=_ERRORS)


@router.get("/models", response_model=ModelList, summary="Models this server answers (OpenAI's list shape)")
async def list_models(registry: RegistryDep, _actor: GenerateActor) -> ModelList:
    return ModelList(data=[ModelCard(id=m) for m in chat.served_models(registry)])


@router.post("/chat/completions", response_model=ChatCompletionOut,
             summary="A chat completion from the engines, streamed (SSE) or not, in OpenAI's shapes",
             responses={200: {"content": {"text/event-stream": {}},
                              "description": "with `stream: true`: `chat.completion.chunk` events, then "
                                             "`data: [DONE]`; a writer that fails mid-text ends the stream with "
                                             "`data: {\"error\": ...}` and no [DONE]"}})
async def chat_completions(body: ChatCompletionIn, response: Response, registry: RegistryDep,
                           actor: GenerateActor, admission: AdmissionDep) -> ChatCompletionOut | StreamingResponse:
    """Served by the engines in fallback order; ``x-alta-engine`` and ``alta`` name the writer."""
    target = chat.resolve(registry, body.model)  # a 404 before a generation slot is taken
    await admission.enter(actor.name)
    if body.stream:
        return _streamed(body, await chat.stream_chat(target, body.as_messages(), body.params()))
    answer = await chat.complete_chat(target, body.as_messages(), body.params())
    completion = answer.completion
    response.headers["x-alta-engine"] = completion.engine
    usage = None
    if completion.prompt_tokens is not None and completion.completion_tokens is not None:
        usage = UsageOut(prompt_tokens=completion.prompt_tokens, completion_tokens=completion.completion_tokens,
                         total_tokens=completion.prompt_tokens + completion.completion_tokens)
    return ChatCompletionOut(
        id=f"chatcmpl-{uuid.uuid4().hex}", created=int(time.time()), model=body.model, usage=usage,
        choices=[ChoiceOut(message=AssistantMessage(content=completion.text),
                           finish_reason="length" if completion.finish_reason == "length" else "stop")],
        alta=AltaOut(engine=completion.engine, model=completion.model, model_version=completion.model_version,
                     demo=answer.demo, checks=ChecksOut.of(answer.checks) if answer.checks is not None else None,
                     fallbacks=[FallbackOut(engine=f.engine, reason=f.reason) for f in answer.fallbacks]))


def _streamed(body: ChatCompletionIn, stream: chat.ChatStream) -> StreamingResponse:
    """The stream as ``chat.completion.chunk`` events: the writer first, the text, then the end."""
    writer = stream.writer
    chunk_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())

    def chunk(delta: dict[str, str], finish: str | None = None, **extra: Any) -> str:
        return completion_chunk(chunk_id, created, body.model, delta, finish, **extra)

    async def sse() -> AsyncIterator[str]:
        alta = {"engine": writer.name, "model": writer.model, "model_version": writer.model_version,
                "demo": writer.demo}
        yield chunk({"role": "assistant", "content": ""}, alta=alta)
        try:
            async for event in stream.events:
                if isinstance(event, str):
                    yield chunk({"content": event})
                else:  # the last chunk names every engine passed over, and why, and the review
                    fallbacks = [{"engine": f.engine, "reason": f.reason} for f in event.fallbacks]
                    extra = {"checks": ChecksOut.of(event.checks).model_dump(mode="json")} \
                        if event.checks is not None else {}
                    yield chunk({}, "stop", alta={**alta, "fallbacks": fallbacks, **extra})
        except chat.StreamBroken as exc:
            yield sse_data({"error": OpenAIError(message=str(exc), type="server_error", code="stream_broken").model_dump()})
            return
        yield sse_data("[DONE]")

    headers = {"x-alta-engine": writer.name, "Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(sse(), media_type="text/event-stream", headers=headers)
