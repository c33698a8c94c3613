"""The wire of Alta's OpenAI-compatible surface (``/v1``): request and response bodies in OpenAI's
shapes, and the Server-Sent Events a streamed completion is framed in.

What Alta's own /v1 reads and writes; the client side of the same protocol, reading what vLLM sends
back, is ``backend.engines.openai_protocol``.
"""

from __future__ import annotations

import json
import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from backend.api.schemas import ChecksOut, FallbackOut
from backend.engines.base import GenerationParams

STARTED = int(time.time())
GREEDY_BELOW = 1e-5  # as vLLM's _SAMPLING_EPS and backend.engines.decoding.GREEDY_BELOW
MAX_TOKENS = 32768

OPENAI_PARAMETERS = frozenset({
    "audio", "frequency_penalty", "function_call", "functions", "logit_bias", "logprobs", "max_completion_tokens",
    "metadata", "modalities", "parallel_tool_calls", "prediction", "presence_penalty", "reasoning_effort",
    "response_format", "service_tier", "stop", "store", "tool_choice", "tools", "top_logprobs", "web_search_options",
    "name", "tool_calls", "tool_call_id", "refusal", "image_url", "input_audio", "file"})
"""OpenAI chat parameters Alta does not take: an error may name them (they are OpenAI's words, not the client's)."""


# --- request --------------------------------------------------------------------------------


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

    def as_messages(self) -> list[dict[str, str]]:
        return [m.as_message() for m in self.messages]

    def params(self) -> GenerationParams:
        # A temperature too small to sample with (1e-308 divides logits into inf) is greedy decoding.
        temperature = 0.0 if self.temperature is not None and self.temperature < GREEDY_BELOW else self.temperature
        return GenerationParams(max_new_tokens=self.max_completion_tokens or self.max_tokens,
                                temperature=temperature, top_p=self.top_p, seed=self.seed)


# --- responses ------------------------------------------------------------------------------


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


# --- streamed responses (Server-Sent Events) ------------------------------------------------


def sse_data(payload: dict[str, Any] | str) -> str:
    """One SSE ``data:`` event: a JSON object, or a bare string such as ``[DONE]``."""
    return f"data: {payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)}\n\n"


def completion_chunk(chunk_id: str, created: int, model: str, delta: dict[str, str], finish: str | None = None,
                     **extra: Any) -> str:
    """A ``chat.completion.chunk`` event; ``extra`` adds top-level fields (Alta's ``alta``)."""
    return sse_data({"id": chunk_id, "object": "chat.completion.chunk", "created": created, "model": model,
                     "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}], **extra})
