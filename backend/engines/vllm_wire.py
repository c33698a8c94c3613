"""What crosses the wire between Alta and a vLLM server: the request body, the errors an answer maps
to, the timeouts and one server's state. The client that uses them is :mod:`backend.engines.vllm`.

Epicrisis requests whose prompt carries a record (the prompt contract's user message) send that
record's grammar (``clinical.grammar``) as ``structured_outputs: {"grammar": ...}``, which vLLM
(0.12 removed the older ``guided_*`` fields) enforces with xgrammar on the GPU: the same grammar the
ONNX engine and the browser apply (``ALTA_VLLM_CONSTRAIN``, on by default).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx

from backend.engines.base import (
    ContextLengthExceeded,
    EngineBusy,
    EngineError,
    EngineUnsupported,
    GenerationParams,
    Messages,
)
from backend.engines.breaker import CircuitBreaker
from backend.engines.openai_protocol import describe_error
from clinical.contract import record_from_messages
from clinical.grammar import epicrisis_grammar

__all__ = ["RETRIED_STATUSES", "NotSent", "Server", "VllmTimeout", "VllmTimeouts", "VllmUnavailable",
           "chat_payload", "normalise_base_url", "status_error"]


def greedy_below_eps(temperature: float) -> float:
    """0 (greedy) for temperatures vLLM samples greedily anyway (under 1e-5), so the request says what happens."""
    return 0.0 if temperature < 1e-5 else temperature


_CONTEXT = re.compile(r"exceed the model's (\d+)-token context")
RETRIED_STATUSES = frozenset({429, 502, 503})
"""Answers that mean no server started on the request: safe to send it again."""


class VllmTimeout(EngineError):
    """A server took longer than a configured timeout (connect, first event or whole answer)."""

    fallback_reason = "timeout"


class VllmUnavailable(EngineError):
    """No server could take the request: unreachable, or its circuit is open."""

    fallback_reason = "unhealthy"


class NotSent(Exception):
    """No connection was made, so the request can be sent again."""

    def __init__(self, error: EngineError, retry_same: bool) -> None:
        self.error, self.retry_same = error, retry_same


@dataclass(frozen=True)
class VllmTimeouts:
    connect_s: float = 3.0
    first_token_s: float = 30.0
    total_s: float = 300.0


@dataclass(eq=False)
class Server:
    url: str
    breaker: CircuitBreaker
    in_flight: int = 0
    checked_at: float | None = None
    probe_ok: bool = True
    probe_detail: str = ""
    models: dict[str, str] | None = None  # served model id -> root (adapter path); None: not asked yet

    def serves(self, model: str) -> bool:
        return self.models is None or model in self.models


def normalise_base_url(url: str) -> str:
    """``http://gpu-1:8000``, ``http://gpu-1:8000/`` and ``http://gpu-1:8000/v1`` are one server."""
    parsed = httpx.URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(f"vLLM base URL {url!r} must be http(s)://host[:port] (ALTA_VLLM_BASE_URLS)")
    if parsed.userinfo:
        raise ValueError("a vLLM base URL may not carry credentials; set ALTA_VLLM_API_KEY instead")
    return str(parsed).rstrip("/").removesuffix("/v1")


def status_error(server: Server, status: int, raw: bytes, model: str) -> EngineError:
    """The engine error an HTTP error answer means, and what it tells the server's circuit breaker."""
    where = f"{server.url} answered HTTP {status} {describe_error(raw)}"
    if status >= 500:
        server.breaker.failure()
    else:  # the server is alive and said no: a verdict on the request, not on the server
        server.breaker.success()
    if status in (401, 403):
        return EngineError(f"{where}: set ALTA_VLLM_API_KEY to the server's --api-key")
    if status == 404:
        return EngineUnsupported(f"{where}: is {model!r} in its --lora-modules?")
    if status in (429, 503):
        return EngineBusy(f"{where}: overloaded or starting")
    if status == 502:
        return VllmUnavailable(where)
    if status == 400 and (limit := _CONTEXT.search(where)):  # describe_error's rephrasing, numbers only
        return ContextLengthExceeded(where, int(limit.group(1)))
    return EngineError(where)


def chat_payload(messages: Messages, task: str, params: GenerationParams | None, *, model: str,
                 max_new_tokens: int, temperature: float, constrain: bool) -> dict[str, Any]:
    """The streamed chat request for ``task``'s adapter, with the record's grammar when it carries one."""
    p = params or GenerationParams()
    body: dict[str, Any] = {
        "model": model, "messages": messages,
        "max_tokens": p.max_new_tokens or max_new_tokens,
        "temperature": greedy_below_eps(temperature if p.temperature is None else p.temperature),
        "stream": True, "stream_options": {"include_usage": True},
    }
    if p.top_p is not None:
        body["top_p"] = p.top_p
    if p.seed is not None:
        body["seed"] = p.seed
    if constrain and task == "epicrisis" and (stay := record_from_messages(messages)) is not None:
        body["structured_outputs"] = {"grammar": epicrisis_grammar(stay)}
    return body
