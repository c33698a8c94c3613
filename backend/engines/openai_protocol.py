"""Reading what an OpenAI-compatible server (vLLM's ``vllm serve``, or Alta's own /v1) sends back.

Parsing is strict where being lenient would cost a timeout: a stream line that is no SSE field is
garbage now, not something to skip until the deadline. Error bodies are summarised by their type and,
for known messages, a rephrasing with numbers only; the message itself is never repeated, because a
server's validation error can quote the request, and requests carry patient data.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from backend.engines.base import EngineError


class MalformedAnswer(EngineError):
    """The answer is not what the protocol sends: bad JSON or SSE, a stream cut before [DONE]."""

    fallback_reason = "malformed"


_SAFE_TYPE = re.compile(r"[A-Za-z][A-Za-z0-9_.]{0,63}")
_CONTEXT_LIMIT = re.compile(r"maximum context length is (\d+) tokens")


def error_object(payload: Any) -> dict[str, Any] | None:
    """vLLM's error, in its older (``{"object": "error", ...}``) or newer (``{"error": {...}}``) shape."""
    if not isinstance(payload, dict):
        return None
    if isinstance(payload.get("error"), dict):
        return payload["error"]
    return payload if payload.get("object") == "error" else None


def describe_error(raw: bytes) -> str:
    """An error body's type and, for known messages, what they mean; never the message itself."""
    try:
        error = error_object(json.loads(raw))
    except ValueError:
        return "(not a JSON error body)"
    return "(not an OpenAI error body)" if error is None else describe(error)


def describe(error: dict[str, Any]) -> str:
    """:func:`describe_error` for an already parsed error object."""
    kind = error.get("type")
    kind = kind if isinstance(kind, str) and _SAFE_TYPE.fullmatch(kind) else "error"
    message = error.get("message") if isinstance(error.get("message"), str) else ""
    if match := _CONTEXT_LIMIT.search(message):
        return f"{kind} (the prompt plus max_tokens exceed the model's {int(match.group(1))}-token context)"
    if "does not exist" in message:
        return f"{kind} (model not served)"
    return kind


def content_type(response: httpx.Response) -> str:
    value = response.headers.get("content-type", "none").split(";")[0].strip()
    return value if _SAFE_TYPE.fullmatch(value.replace("/", ".").replace("-", "_")) else "unrecognised"


def served_models(raw: bytes) -> dict[str, str] | None:
    """``GET /v1/models`` as {id: root}, or None when it is not an OpenAI model list."""
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    items = data.get("data") if isinstance(data, dict) else None
    if not isinstance(items, list):
        return None
    models = {}
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            models[item["id"]] = item["root"] if isinstance(item.get("root"), str) else ""
    return models


def as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


async def sse_data(lines: AsyncIterator[str], where: str) -> AsyncIterator[str]:
    """The data of each server-sent event (several ``data:`` lines joined by newlines); comments skipped.

    A line that is no SSE field at all (garbage from a broken proxy or server) is an error at once,
    not something to skip while waiting for the timeout. An event left without its closing blank line
    is incomplete and dropped, as the SSE specification says.
    """
    data: list[str] = []
    async for line in lines:
        if not line:
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if name not in ("data", "event", "id", "retry"):
            raise MalformedAnswer(f"{where}: the stream is not server-sent events")
        if name == "data":
            data.append(value.removeprefix(" "))


@dataclass(frozen=True)
class Chunk:
    """What one ``chat.completion.chunk`` adds: text, and on the last ones the finish reason and usage."""

    text: str = ""
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None


def parse_chunk(payload: str, where: str) -> Chunk:
    """One ``data:`` payload of a chat completion stream (an error event raises EngineError)."""
    try:
        chunk = json.loads(payload)
    except ValueError:
        raise MalformedAnswer(f"{where}: a stream event is not valid JSON") from None
    if (error := error_object(chunk)) is not None:
        raise EngineError(f"{where}: the server reported an error mid-stream: {describe(error)}")
    choices = chunk.get("choices") if isinstance(chunk, dict) else None
    if not isinstance(choices, list):
        raise MalformedAnswer(f"{where}: a stream event is not a chat.completion.chunk")
    usage = chunk["usage"] if isinstance(chunk.get("usage"), dict) else None
    if not choices:  # the usage chunk
        return Chunk(usage=usage)
    choice = choices[0] if isinstance(choices[0], dict) else {}
    delta = choice.get("delta")
    content = delta.get("content") if isinstance(delta, dict) else 0
    if content is not None and not isinstance(content, str):
        raise MalformedAnswer(f"{where}: a stream event has no delta text")
    finish = choice.get("finish_reason")
    return Chunk(content or "", finish if isinstance(finish, str) else None, usage)
