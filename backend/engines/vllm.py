"""The vLLM engine: an async client of vLLM's OpenAI-compatible server (``vllm serve``).

vLLM runs as its own process on a GPU host; the backend never imports it. The task's LoRA adapter
is picked by the request's ``model`` field (``vllm serve ... --lora-modules epicrisis=...
translation=...``; ``ALTA_VLLM_MODELS`` maps tasks to those names). Several servers may be
configured: a request goes to the usable server with the fewest requests open, in turn among equals,
and only to servers whose ``/v1/models`` lists the model it asks for.

What a failure costs, and why:
- Connect errors, 502, 503 and 429 come before any server started on the request, so they are
  retried with backoff (on another server when there is one). Nothing is retried once a server
  answered 200 (it may have generated already), and never after a stream started.
- Every server has a circuit breaker: after ``breaker_failures`` consecutive failures (connect
  errors, timeouts, 5xx, malformed answers, failed health probes) nothing is sent to it for
  ``breaker_cooldown_s``; then one request goes through and closes or re-opens it. A passing health
  probe never closes it (a server can answer /health and hang on every generation). Probes are
  shared by concurrent callers and reused for ``health_ttl_s``. A dead server thus costs a few
  timeouts, not one per request.
- Timeouts: connecting, the first stream event (queueing plus prefill), and the whole answer. Whole
  answers are read as streams too, so a hung server is found within the first-token timeout.

Error reasons never quote vLLM's error messages, which can repeat the request (a validation error
echoes its input): they carry the server, the status, vLLM's error type and, for known messages, a
rephrasing with numbers only.

The request body, the errors an answer maps to and a server's state are in :mod:`backend.engines.vllm_wire`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing, asynccontextmanager
from typing import Any, TypeVar

import httpx

from backend.core.config import Settings
from backend.engines.base import (
    Completion,
    Engine,
    EngineBusy,
    EngineError,
    EngineHealth,
    EngineUnsupported,
    GenerationParams,
    Messages,
)
from backend.engines.breaker import CircuitBreaker
from backend.engines.openai_protocol import (
    Chunk,
    MalformedAnswer,
    as_int,
    content_type,
    parse_chunk,
    served_models,
    sse_data,
)
from backend.engines.vllm_wire import (  # noqa: F401 - re-exported: the engine's errors and settings
    RETRIED_STATUSES,
    NotSent,
    Server,
    VllmTimeout,
    VllmTimeouts,
    VllmUnavailable,
    chat_payload,
    normalise_base_url,
    status_error,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")

class VllmEngine(Engine):
    """Writes with vLLM servers over HTTP; ``tasks`` are the tasks with a served model name."""

    name = "vllm"

    def __init__(self, base_urls: list[str], models: dict[str, str], *, api_key: str | None = None,
                 timeouts: VllmTimeouts | None = None, retries: int = 2, backoff_s: float = 0.2,
                 breaker_failures: int = 3, breaker_cooldown_s: float = 30.0, health_ttl_s: float = 5.0,
                 max_in_flight: int = 64, max_new_tokens: int = 1536, temperature: float = 0.0,
                 clock: Callable[[], float] = time.monotonic, constrain: bool = False) -> None:
        if not base_urls:
            raise ValueError('the vllm engine needs ALTA_VLLM_BASE_URLS, e.g. ["http://gpu-1:8000"]')
        if not models:
            raise ValueError('ALTA_VLLM_MODELS is empty; map tasks to served names, e.g. {"epicrisis": "epicrisis"}')
        urls = list(dict.fromkeys(normalise_base_url(u) for u in base_urls))
        self.servers = [Server(u, CircuitBreaker(breaker_failures, breaker_cooldown_s, clock)) for u in urls]
        self.models = dict(models)
        self.tasks = tuple(models)
        self.model = models.get("epicrisis", next(iter(models.values())))
        self.timeouts = timeouts or VllmTimeouts()
        self.retries, self.backoff_s, self.health_ttl_s = retries, backoff_s, health_ttl_s
        self.max_in_flight, self.max_new_tokens, self.temperature = max_in_flight, max_new_tokens, temperature
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.constrain = constrain  # epicrisis requests carry their record's grammar (structured_outputs)
        self._clock = clock
        self._turn = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._http: httpx.AsyncClient | None = None
        self._probe_locks: dict[str, asyncio.Lock] = {}
        logger.info("vllm engine: %d server(s), models %s", len(self.servers), self.models)

    @classmethod
    def from_settings(cls, settings: Settings) -> VllmEngine:
        key = settings.vllm_api_key.get_secret_value() if settings.vllm_api_key else None
        return cls(settings.vllm_base_urls, settings.vllm_models, api_key=key,
                   timeouts=VllmTimeouts(settings.vllm_connect_timeout_s, settings.vllm_first_token_timeout_s,
                                         settings.vllm_total_timeout_s),
                   retries=settings.vllm_retries, backoff_s=settings.vllm_retry_backoff_s,
                   breaker_failures=settings.vllm_breaker_failures, breaker_cooldown_s=settings.vllm_breaker_cooldown_s,
                   health_ttl_s=settings.vllm_health_ttl_s, max_in_flight=settings.vllm_max_in_flight,
                   max_new_tokens=settings.vllm_max_new_tokens, temperature=settings.vllm_temperature,
                   constrain=settings.vllm_constrain)

    @property
    def model_version(self) -> str:  # type: ignore[override]
        """The adapter the first server that listed it loaded (its ``root``), which changes with a redeploy."""
        return next((s.models[self.model] for s in self.servers if s.models and s.models.get(self.model)), "unreported")

    def _client(self) -> httpx.AsyncClient:
        """One connection pool per event loop (a pool's sockets belong to the loop that opened them)."""
        loop = asyncio.get_running_loop()
        if self._http is None or self._loop is not loop:
            self._loop, self._probe_locks = loop, {}
            # trust_env=False: the GPU hosts are internal; a proxy from the environment must not reroute them.
            self._http = httpx.AsyncClient(
                headers=self._headers, trust_env=False,
                timeout=httpx.Timeout(self.timeouts.total_s, connect=self.timeouts.connect_s),
                limits=httpx.Limits(max_connections=self.max_in_flight * len(self.servers) + len(self.servers)))
        return self._http

    # --- health ------------------------------------------------------------------------------

    async def health(self) -> EngineHealth:
        up = [s for s, ok in zip(self.servers, await asyncio.gather(*map(self._check, self.servers)), strict=True)
              if ok]
        if not up:
            return EngineHealth("down", "no vLLM server is usable: " + "; ".join(s.probe_detail for s in self.servers))
        missing = [m for m in self.models.values() if not any(s.serves(m) for s in up)]
        if len(missing) == len(self.models):
            return EngineHealth("down", f"no usable vLLM server serves {', '.join(missing)}; add them to "
                                        "vllm serve --lora-modules or fix ALTA_VLLM_MODELS")
        detail = f"{len(up)}/{len(self.servers)} vLLM servers up"
        return EngineHealth("ok", detail + (f"; not served: {', '.join(missing)}" if missing else ""))

    def _fresh(self, server: Server) -> bool:
        return server.checked_at is not None and self._clock() - server.checked_at < self.health_ttl_s

    async def _check(self, server: Server) -> bool:
        """Whether requests may go to ``server``. Probes never close a circuit: a server can answer
        /health and still hang on every generation, so only a request's success does. While the
        circuit is half-open a passing probe reports the server usable, so that a request can be
        its one trial."""
        if not server.breaker.available():
            server.probe_detail = (f"{server.url}: circuit open after {server.breaker.failures} failures, "
                                   f"next try in {server.breaker.retry_in_s():.0f} s"
                                   if server.breaker.state == "open" else
                                   f"{server.url}: circuit half-open, a trial request is running")
            return False
        if self._fresh(server):
            return server.probe_ok
        self._client()
        async with self._probe_locks.setdefault(server.url, asyncio.Lock()):  # concurrent callers share a probe
            return server.probe_ok if self._fresh(server) else await self._probe(server)

    async def _probe(self, server: Server) -> bool:
        """``GET /health`` (vLLM's engine loop alive; a 404 means a proxy or server without it) and
        ``GET /v1/models`` (reachable with our key, and which models it serves)."""
        client = self._client()
        timeout = httpx.Timeout(max(5.0, self.timeouts.connect_s), connect=self.timeouts.connect_s)
        try:
            alive = await client.get(f"{server.url}/health", timeout=timeout)
            if alive.status_code not in (200, 404):
                return self._probe_result(server, False, f"GET /health answered {alive.status_code}")
            listing = await client.get(f"{server.url}/v1/models", timeout=timeout)
        except httpx.TimeoutException:
            return self._probe_result(server, False, f"no answer within {timeout.read:g} s")
        except httpx.TransportError as exc:
            return self._probe_result(server, False, f"unreachable ({type(exc).__name__})")
        if listing.status_code in (401, 403):
            return self._probe_result(server, False, f"GET /v1/models answered {listing.status_code}: set "
                                                     "ALTA_VLLM_API_KEY to the server's --api-key")
        models = served_models(listing.content) if listing.status_code == 200 else None
        if models is None:
            return self._probe_result(server, False, f"GET /v1/models answered {listing.status_code} without a "
                                                     "model list")
        server.models = models
        return self._probe_result(server, True, f"serves {', '.join(sorted(models))}")

    def _probe_result(self, server: Server, ok: bool, detail: str) -> bool:
        server.checked_at, server.probe_ok, server.probe_detail = self._clock(), ok, f"{server.url}: {detail}"
        if not ok:
            server.breaker.failure()
            logger.warning("vllm server %s failed its health probe", server.url)
        return ok

    # --- choosing a server and sending -------------------------------------------------------

    def _usable(self, server: Server, model: str) -> bool:
        known_down = self._fresh(server) and not server.probe_ok
        return (server.serves(model) and server.breaker.available() and not known_down
                and server.in_flight < self.max_in_flight)

    def _choose(self, model: str, avoid: set[str]) -> tuple[Server, bool] | None:
        """The usable server with the fewest open requests (equals take turns), and whether this
        request is its half-open circuit's one trial."""
        self._turn += 1
        n = len(self.servers)
        ordered = [self.servers[(self._turn + i) % n] for i in range(n)]
        candidates = [s for s in ordered if s.url not in avoid and self._usable(s, model)]
        if not candidates:
            return None
        chosen = min(candidates, key=lambda s: s.in_flight)
        trial = chosen.breaker.state == "half-open"
        chosen.breaker.acquire()
        return chosen, trial

    def _none_usable(self, model: str, last: EngineError | None) -> EngineError:
        if last is not None:
            return last
        if not any(s.serves(model) for s in self.servers):
            served = sorted({m for s in self.servers for m in (s.models or {})})
            return EngineUnsupported(f"no vLLM server serves model {model!r} (served: {', '.join(served)}); add it "
                                     "to vllm serve --lora-modules or fix ALTA_VLLM_MODELS")
        if all(s.in_flight >= self.max_in_flight for s in self.servers if s.serves(model)):
            return EngineBusy(f"every vLLM server has {self.max_in_flight} requests open (ALTA_VLLM_MAX_IN_FLIGHT)")
        details = []
        for s in self.servers:
            if s.breaker.state != "closed":
                details.append(f"{s.url}: circuit open, next try in {s.breaker.retry_in_s():.0f} s")
            else:
                details.append(s.probe_detail or f"{s.url}: unusable")
        return VllmUnavailable("no vLLM server is usable: " + "; ".join(details))

    async def _within(self, awaitable: Awaitable[T], deadline: float, what: str, where: str) -> T:
        """``awaitable`` by ``deadline`` (the event loop's clock), with transport errors named."""
        try:
            async with asyncio.timeout_at(deadline):
                return await awaitable
        except (TimeoutError, httpx.TimeoutException):
            raise VllmTimeout(f"{where}: {what}") from None
        except httpx.RemoteProtocolError:
            raise MalformedAnswer(f"{where}: the connection closed before the answer was complete") from None
        except httpx.TransportError as exc:
            raise EngineError(f"{where}: the connection failed ({type(exc).__name__})") from None

    async def _send(self, server: Server, body: dict[str, Any], deadline: float, waited: str) -> httpx.Response:
        """POST the request and read the answer's headers; NotSent when no connection was made."""
        client = self._client()
        request = client.build_request("POST", f"{server.url}/v1/chat/completions", json=body)
        try:
            async with asyncio.timeout_at(deadline):
                return await client.send(request, stream=True)
        except httpx.ConnectTimeout:
            server.breaker.failure()  # a second try on this server would cost another timeout
            raise NotSent(VllmUnavailable(f"{server.url}: no connection within {self.timeouts.connect_s:g} s"),
                           retry_same=False) from None
        except httpx.ConnectError:
            server.breaker.failure()  # refused: fast, so worth a retry (a restart, a blip)
            raise NotSent(VllmUnavailable(f"{server.url}: connection refused"), retry_same=True) from None
        except (TimeoutError, httpx.TimeoutException):
            server.breaker.failure()
            raise VllmTimeout(f"{server.url}: {waited}") from None
        except httpx.TransportError as exc:
            server.breaker.failure()
            raise MalformedAnswer(f"{server.url}: the connection broke before an answer ({type(exc).__name__})") from None

    @asynccontextmanager
    async def _exchange(self, model: str, body: dict[str, Any], deadline: float,
                        waited: str) -> AsyncIterator[tuple[str, httpx.Response]]:
        """A 200 answer (headers read, body not) from one server, retrying where no server started.

        The caller reads the body inside the block: an EngineError it raises there counts against
        the server, a clean exit for it, and a caller that goes away counts neither way.
        """
        loop = asyncio.get_running_loop()
        avoid: set[str] = set()
        last: EngineError | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                delay = self.backoff_s * 2 ** (attempt - 1) * random.uniform(0.5, 1.0)
                if loop.time() + delay >= deadline:
                    break
                await asyncio.sleep(delay)
            chosen = self._choose(model, avoid)
            if chosen is None:
                break
            server, trial = chosen
            server.in_flight += 1
            try:
                try:
                    response = await self._send(server, body, deadline, waited)
                except NotSent as not_sent:
                    last = not_sent.error
                    if not not_sent.retry_same:
                        avoid.add(server.url)
                    continue
                try:
                    if response.status_code != 200:
                        try:
                            raw = await self._within(response.aread(), deadline, waited, server.url)
                        except EngineError:
                            server.breaker.failure()
                            raise
                        error = status_error(server, response.status_code, raw, model)
                        if response.status_code not in RETRIED_STATUSES:
                            raise error
                        last = error  # after a backoff, the next server in turn (or this one again)
                        continue
                    try:
                        yield server.url, response
                    except EngineError:
                        server.breaker.failure()
                        raise
                    server.breaker.success()
                    return
                finally:
                    await response.aclose()
            finally:
                server.in_flight -= 1
                if trial:
                    server.breaker.release()  # a no-op after a verdict; frees the trial of a caller that left
        raise self._none_usable(model, last)

    # --- the Engine interface -------------------------------------------------------------------

    def _payload(self, messages: Messages, task: str, params: GenerationParams | None) -> dict[str, Any]:
        return chat_payload(messages, task, params, model=self.models[task], max_new_tokens=self.max_new_tokens,
                            temperature=self.temperature, constrain=self.constrain)

    def _version(self, url: str, model: str) -> str:
        server = next((s for s in self.servers if s.url == url), None)
        return (server.models or {}).get(model) or "unreported" if server else "unreported"

    def chat_tasks(self) -> tuple[str, ...]:
        return self.tasks  # a model engine answers chat messages for every task it serves

    async def complete(self, messages: Messages, task: str, params: GenerationParams | None = None) -> Completion:
        """The whole answer, read as a stream: a hung server is then found within the first-token
        timeout, not the total one (a non-streamed answer shows no sign of life until it is done)."""
        if not self.supports(task):
            raise self._unsupported(task)
        parts: list[str] = []
        finish: str | None = None
        usage: dict[str, Any] = {}
        sender = ""
        async with aclosing(self._chunks(messages, task, params)) as chunks:
            async for sender, chunk in chunks:  # noqa: B007 - the server is read after the loop
                parts.append(chunk.text)
                finish = chunk.finish_reason or finish
                usage = chunk.usage or usage
        model = self.models[task]
        return Completion("".join(parts), self.name, model, self._version(sender, model),
                          "length" if finish == "length" else "stop",
                          as_int(usage.get("prompt_tokens")), as_int(usage.get("completion_tokens")))

    async def stream_complete(self, messages: Messages, task: str,
                              params: GenerationParams | None = None) -> AsyncIterator[str]:
        """The text as vLLM streams it; a stream that ends before ``[DONE]`` is an error, not a short answer."""
        if not self.supports(task):
            raise self._unsupported(task)
        async with aclosing(self._chunks(messages, task, params)) as chunks:
            async for _url, chunk in chunks:
                if chunk.text:
                    yield chunk.text

    async def _chunks(self, messages: Messages, task: str,
                      params: GenerationParams | None) -> AsyncIterator[tuple[str, Chunk]]:
        """The request's ``chat.completion.chunk`` events up to ``[DONE]``, with the server that sent them."""
        model, body = self.models[task], self._payload(messages, task, params)
        now = asyncio.get_running_loop().time()
        end = now + self.timeouts.total_s
        deadline = min(now + self.timeouts.first_token_s, end)
        waited = f"no first token within {min(self.timeouts.first_token_s, self.timeouts.total_s):g} s"
        async with self._exchange(model, body, deadline, waited) as (url, response):
            if content_type(response) != "text/event-stream":
                raise MalformedAnswer(f"{url}: the answer is not server-sent events "
                                      f"(content-type {content_type(response)})")
            events = sse_data(response.aiter_lines(), url)
            while True:
                data = await self._within(anext(events, None), deadline, waited, url)
                if data is None:
                    raise MalformedAnswer(f"{url}: the stream closed before [DONE]")
                deadline, waited = end, f"the answer took longer than {self.timeouts.total_s:g} s"
                if data == "[DONE]":
                    return
                yield url, parse_chunk(data, url)  # outside any timeout scope: the consumer's time is its own

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None
