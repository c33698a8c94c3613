"""Alta's OpenAI-compatible surface: ``POST /v1/chat/completions`` and ``GET /v1/models``.

EHR tools that already speak the OpenAI protocol use Alta as they would use OpenAI or vLLM. The
``model`` names a task (``epicrisis``, ``translation``), answered by the engines that chat in the
configured fallback order, or one engine's model (``onnx/epicrisis``), answered by that engine
alone. The answer says who wrote it: the ``x-alta-engine`` header and an ``alta`` field (engine,
model, version, engines passed over and why), which OpenAI's clients keep as an extra field.

Errors take OpenAI's shape, ``{"error": {"message", "type", "param", "code"}}``, so those clients
raise their usual exceptions; a bad field is a 422 whose ``param`` names it, and no error repeats
what the client sent.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field

from backend.api.deps import GenerateActor, RegistryDep, refused_credentials
from backend.api.errors import redacted_errors, schema_names
from backend.api.openai_errors import OpenAIError, OpenAIErrorOut, openai_error
from backend.api.schemas import ChecksOut, FallbackOut
from backend.engines.base import Completion, ContextLengthExceeded, Engine, GenerationParams
from backend.engines.registry import EngineRegistry
from backend.services.admission import AdmissionDep
from backend.services.errors import DomainError, NoEngineAvailable
from backend.services.fallback import StreamBroken, first_answer, first_stream
from clinical.checks import check_draft
from clinical.contract import record_from_messages
from clinical.record import HospitalStay

STARTED = int(time.time())
GREEDY_BELOW = 1e-5  # as vLLM's _SAMPLING_EPS and backend.engines.decoding.GREEDY_BELOW
MAX_TOKENS = 32768

# --- request and response bodies (OpenAI's shapes) ------------------------------------------


class _Inbound(BaseModel):
    model_config = ConfigDict(extra="forbid")  # an unsupported parameter is an error, not silently ignored


class TextPart(_Inbound):
    type: Literal["text"]
    text: str


class ChatMessageIn(_Inbound):
    role: Literal["system", "user", "assistant"]
    content: str | list[TextPart]

    def as_message(self) -> dict[str, str]:
        text = self.content if isinstance(self.content, str) else "".join(p.text for p in self.content)
        return {"role": self.role, "content": text}


class StreamOptions(_Inbound):
    include_usage: bool = False


class ChatCompletionIn(_Inbound):
    model: str = Field(min_length=1, max_length=200, description='a task ("epicrisis", "translation") or '
                                                                 '"<engine>/<task>"; see GET /v1/models')
    messages: list[ChatMessageIn] = Field(min_length=1, max_length=256)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(None, ge=1, le=MAX_TOKENS)
    max_completion_tokens: int | None = Field(None, ge=1, le=MAX_TOKENS, description="the newer name of max_tokens")
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    seed: int | None = Field(None, ge=0, lt=2**63)
    n: Literal[1] | None = Field(None, description="one choice per request")
    user: str | None = Field(None, max_length=256, description="accepted for compatibility; neither used nor logged")

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "model": "epicrisis", "max_tokens": 512,
        "messages": [{"role": "system", "content": "Eres un médico internista..."},
                     {"role": "user", "content": "Registro de hospitalización:\n{...}"}]}]})

    def params(self) -> GenerationParams:
        # A temperature too small to sample with (1e-308 divides logits into inf) is greedy decoding.
        temperature = 0.0 if self.temperature is not None and self.temperature < GREEDY_BELOW else self.temperature
        return GenerationParams(max_new_tokens=self.max_completion_tokens or self.max_tokens,
                                temperature=temperature, top_p=self.top_p, seed=self.seed)


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class ChoiceOut(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop", "length"]
    logprobs: None = None


class UsageOut(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class AltaOut(BaseModel):
    """Which engine wrote the answer, and which were passed over and why."""

    engine: str
    model: str
    model_version: str
    demo: bool = False
    fallbacks: list[FallbackOut] = []
    checks: ChecksOut | None = Field(None, description="for an epicrisis whose messages carry the prompt "
                                                       "contract's record: the review of the answer against it")


class ChatCompletionOut(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChoiceOut]
    usage: UsageOut | None = None
    alta: AltaOut


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = STARTED
    owned_by: str = "alta"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


# --- errors in OpenAI's shape (the wire shape: backend.api.openai_errors) -------------------


def _domain_error(exc: DomainError) -> JSONResponse:
    retry_after = getattr(exc, "retry_after_s", None)
    retry_after = retry_after if retry_after is not None else 5 if exc.status_code == 503 else None
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return openai_error(exc.status_code, str(exc), code=exc.code, headers=headers)


OPENAI_PARAMETERS = frozenset({
    "audio", "frequency_penalty", "function_call", "functions", "logit_bias", "logprobs", "max_completion_tokens",
    "metadata", "modalities", "parallel_tool_calls", "prediction", "presence_penalty", "reasoning_effort",
    "response_format", "service_tier", "stop", "store", "tool_choice", "tools", "top_logprobs", "web_search_options",
    "name", "tool_calls", "tool_call_id", "refusal", "image_url", "input_audio", "file"})
"""OpenAI chat parameters Alta does not take: an error may name them (they are OpenAI's words, not the client's)."""


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
                return _domain_error(exc)

        return route


_ERRORS = {status: {"model": OpenAIErrorOut} for status in (400, 401, 403, 404, 422, 429, 503)}
router = APIRouter(prefix="/v1", tags=["openai"], route_class=OpenAIRoute, responses=_ERRORS)


# --- what a model name means ----------------------------------------------------------------


class ModelNotFound(DomainError):
    status_code = 404
    code = "model_not_found"


class ContextLengthError(DomainError):
    """The prompt is longer than every model that could answer it can read: 400, never a 503 to retry."""

    status_code = 400
    code = "context_length_exceeded"


class _TooLong:
    """Remembers the engines that refused the prompt as too long for their context."""

    def __init__(self) -> None:
        self.contexts: list[int | None] = []

    def wrap(self, call: Callable[[Engine], Any]) -> Callable[[Engine], Any]:
        async def called(engine: Engine) -> Any:
            try:
                return await call(engine)
            except ContextLengthExceeded as exc:
                self.contexts.append(exc.context)
                raise
        return called

    def wrap_stream(self, call: Callable[[Engine], AsyncIterator[str]]) -> Callable[[Engine], AsyncIterator[str]]:
        async def called(engine: Engine) -> AsyncIterator[str]:
            try:
                async for piece in call(engine):
                    yield piece
            except ContextLengthExceeded as exc:
                self.contexts.append(exc.context)
                raise
        return called

    def error(self, unavailable: NoEngineAvailable) -> DomainError:
        """A 400 when an engine refused the prompt as too long and none answered; else the 503."""
        if not self.contexts:
            return unavailable
        known = [c for c in self.contexts if c is not None]
        size = f"{max(known)} tokens" if known else "its limit"
        return ContextLengthError(f"the messages are longer than the model's context ({size}, prompt and answer "
                                  "together): shorten them or lower max_tokens")


def served_models(registry: EngineRegistry) -> list[str]:
    """Tasks first (in the order the engines list them), then ``<engine>/<task>`` for each engine,
    for the tasks each engine declares it answers as chat (:meth:`Engine.chat_tasks`)."""
    tasks = list(dict.fromkeys(t for e in registry for t in e.chat_tasks()))
    return tasks + [f"{e.name}/{t}" for e in registry for t in e.chat_tasks()]


@dataclass(frozen=True)
class Target:
    task: str
    engines: list[Engine]


def resolve(registry: EngineRegistry, model: str) -> Target:
    if model not in served_models(registry):
        # The name is the client's text: not repeated, the choices are listed instead.
        raise ModelNotFound("the model named in `model` is not served here; GET /v1/models lists them: "
                            + ", ".join(served_models(registry)))
    name, sep, task = model.partition("/")
    if sep:
        return Target(task, [registry.get(name)])
    return Target(model, [e for e in registry.for_task(model) if e.chats(model)])


# --- routes ---------------------------------------------------------------------------------


@router.get("/models", response_model=ModelList, summary="Models this server answers (OpenAI's list shape)")
async def list_models(registry: RegistryDep, _actor: GenerateActor) -> ModelList:
    return ModelList(data=[ModelCard(id=m) for m in served_models(registry)])


@router.post("/chat/completions", response_model=ChatCompletionOut,
             summary="A chat completion from the engines, streamed (SSE) or not, in OpenAI's shapes",
             responses={200: {"content": {"text/event-stream": {}},
                              "description": "with `stream: true`: `chat.completion.chunk` events, then "
                                             "`data: [DONE]`; a writer that fails mid-text ends the stream with "
                                             "`data: {\"error\": ...}` and no [DONE]"}})
async def chat_completions(body: ChatCompletionIn, response: Response, registry: RegistryDep,
                           actor: GenerateActor, admission: AdmissionDep) -> ChatCompletionOut | StreamingResponse:
    """Served by the engines in fallback order; ``x-alta-engine`` and ``alta`` name the writer."""
    target = resolve(registry, body.model)
    await admission.enter(actor.name)
    messages, params = [m.as_message() for m in body.messages], body.params()
    # An epicrisis prompt that carries its record is reviewed against it, as on every other path.
    stay = record_from_messages(messages) if target.task == "epicrisis" else None
    if body.stream:
        return await _stream(body, target, messages, params, stay)
    review = None
    if stay is not None:
        def review(c: Completion) -> str | None:
            report = check_draft(stay, c.text)
            return None if report.ok else f"draft failed the record review ({len(report.findings)} findings)"
    too_long = _TooLong()
    try:
        answer = await first_answer(target.engines, target.task,
                                    too_long.wrap(lambda engine: engine.complete(messages, target.task, params)),
                                    review)
    except NoEngineAvailable as exc:
        raise too_long.error(exc) from None
    completion: Completion = answer.value
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
                     demo=answer.engine.demo, checks=_checks(stay, completion.text),
                     fallbacks=[FallbackOut(engine=f.engine, reason=f.reason) for f in answer.fallbacks]))


def _checks(stay: HospitalStay | None, text: str) -> ChecksOut | None:
    return ChecksOut.of(check_draft(stay, text)) if stay is not None else None


def _data(payload: dict[str, Any] | str) -> str:
    return f"data: {payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)}\n\n"


async def _stream(body: ChatCompletionIn, target: Target, messages: list[dict[str, str]],
                  params: GenerationParams, stay: HospitalStay | None) -> StreamingResponse:
    too_long = _TooLong()
    events = first_stream(target.engines, target.task,
                          too_long.wrap_stream(lambda engine: engine.stream_complete(messages, target.task, params)))
    # Engines that failed before writing come just before the writer's start: read up to it, so a
    # request no engine answers is still a plain 503 (400 for a prompt too long) and the header names
    # the writer.
    try:
        while (event := await anext(events)).kind == "fallback":
            pass
    except NoEngineAvailable as exc:
        raise too_long.error(exc) from None
    writer = event.engine
    chunk_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())

    def chunk(delta: dict[str, str], finish: str | None = None, **extra: Any) -> str:
        return _data({"id": chunk_id, "object": "chat.completion.chunk", "created": created, "model": body.model,
                      "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}], **extra})

    async def sse() -> AsyncIterator[str]:
        alta = {"engine": writer.name, "model": writer.model, "model_version": writer.model_version,
                "demo": writer.demo}
        yield chunk({"role": "assistant", "content": ""}, alta=alta)
        try:
            async for event in events:
                if event.kind == "chunk":
                    yield chunk({"content": event.text})
                elif event.kind == "done":  # the last chunk names every engine passed over, and why
                    fallbacks = [{"engine": f.engine, "reason": f.reason} for f in event.fallbacks]
                    checks = _checks(stay, event.draft.text)  # text already sent is reviewed, not replaced
                    extra = {"checks": checks.model_dump(mode="json")} if checks is not None else {}
                    yield chunk({}, "stop", alta={**alta, "fallbacks": fallbacks, **extra})
        except StreamBroken as exc:
            yield _data({"error": OpenAIError(message=str(exc), type="server_error", code="stream_broken").model_dump()})
            return
        yield _data("[DONE]")

    headers = {"x-alta-engine": writer.name, "Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(sse(), media_type="text/event-stream", headers=headers)
