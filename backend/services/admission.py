"""Admission control for generations: per-key rate limits and a bounded queue in front of the engines.

A generation holds an engine (a GPU slot, ONNX Runtime threads) for seconds. Without a bound, a
burst of requests piles up inside the server until every one of them times out; with one, the
server runs ``max_inflight`` generations, lets ``max_queued`` more wait (at most ``timeout_s``),
and answers the rest at once with 503 and ``Retry-After``, so clients back off and nothing that
was accepted is lost. A key that sends more than its ``rate_limit_per_minute`` gets 429.

Routes take a gate with one parameter and enter it after the request is validated::

    async def create(body: ..., actor: GenerateActor, admission: AdmissionDep):
        await admission.enter(actor.name)

The gate is a dependency with ``yield``: FastAPI leaves it after the response is sent, streamed
or not, and also when the client goes away mid-stream, so a slot is never leaked.

The state is in process, which is right for today's deployment (one uvicorn worker per replica:
``python -m backend serve`` runs ``workers=1``). With several workers or replicas each process
enforces its own limits: the queue bound stays right per process (it protects that process's
engines), but a key's effective rate limit becomes N times the setting; a shared limit would then
need a shared store (Redis, or the database), or the load balancer's own per-client limits.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from backend.core import metrics
from backend.core.config import Settings
from backend.services.errors import DomainError


class Overloaded(DomainError):
    """Every generation slot is busy and the queue is full (or the wait ran out): retry later."""

    status_code = 503
    code = "overloaded"

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class RateLimited(DomainError):
    """This API key sent more generation requests than its per-minute allowance."""

    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """A token bucket per API key name: ``per_minute`` requests a minute, bursts up to a minute's worth.

    Key names are a closed set (rows of ``api_keys``), so the buckets cannot grow without bound.
    """

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0  # tokens per second
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    def take(self, key: str) -> None:
        """Spend one token of ``key``'s bucket, or raise RateLimited saying when one will be there."""
        if not self.enabled:
            return
        now = self._clock()
        bucket = self._buckets.setdefault(key, _Bucket(self.capacity, now))
        bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens < 1:
            wait = math.ceil((1 - bucket.tokens) / self.rate)
            raise RateLimited(
                f"this API key may start {self.per_minute} generations a minute (ALTA_RATE_LIMIT_PER_MINUTE); "
                f"retry in {wait} s", retry_after_s=wait)
        bucket.tokens -= 1

    def give_back(self, key: str) -> None:
        """Return the token of a request that was turned away for a reason that is not the key's."""
        if self.enabled and key in self._buckets:
            bucket = self._buckets[key]
            bucket.tokens = min(self.capacity, bucket.tokens + 1)


class GenerationQueue:
    """At most ``max_inflight`` holders; at most ``max_queued`` waiters, served first come first served.

    It lives on one event loop (the server's), so plain counters need no lock.
    """

    def __init__(self, max_inflight: int, max_queued: int, timeout_s: float) -> None:
        if max_inflight < 1 or max_queued < 0 or timeout_s <= 0:
            raise ValueError("max_inflight must be >= 1, max_queued >= 0 and timeout_s > 0")
        self.max_inflight = max_inflight
        self.max_queued = max_queued
        self.timeout_s = timeout_s
        self.inflight = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._hold_s = 1.0  # moving average of how long a slot is held, for Retry-After

    @property
    def queued(self) -> int:
        return sum(1 for w in self._waiters if not w.done())

    def retry_after_s(self) -> int:
        """Seconds until the queue has likely drained enough to take a new request (1 to 60)."""
        rounds = (self.queued + self.inflight) / self.max_inflight
        return max(1, min(60, math.ceil(self._hold_s * rounds)))

    async def acquire(self) -> None:
        if self.inflight < self.max_inflight and not self.queued:
            self.inflight += 1
            return
        if self.queued >= self.max_queued:
            metrics.ADMISSION_REJECTIONS.labels("queue_full").inc()
            raise Overloaded(
                f"the server is writing {self.inflight} drafts and {self.queued} more are waiting; "
                "retry after the time in Retry-After", retry_after_s=self.retry_after_s())
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(self.timeout_s):
                await waiter
        except BaseException as exc:
            if waiter.done() and not waiter.cancelled():
                self.release(0.0)  # the slot arrived as this request gave up: hand it on
            elif waiter in self._waiters:
                self._waiters.remove(waiter)
            if isinstance(exc, TimeoutError):
                metrics.ADMISSION_REJECTIONS.labels("queue_timeout").inc()
                raise Overloaded(
                    f"no generation slot became free within {self.timeout_s:g} s (ALTA_QUEUE_TIMEOUT_S); "
                    "retry after the time in Retry-After", retry_after_s=self.retry_after_s()) from None
            raise

    def release(self, held_s: float) -> None:
        """Free a slot: the longest waiter takes it over, or the in-flight count drops."""
        if held_s > 0:
            self._hold_s = 0.9 * self._hold_s + 0.1 * held_s
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # in-flight count unchanged: the slot changes hands
                return
        self.inflight -= 1


class AdmissionControl:
    """The rate limiter and the queue together; one per app (``app.state.admission``)."""

    def __init__(self, max_inflight: int, max_queued: int, queue_timeout_s: float, rate_limit_per_minute: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.queue = GenerationQueue(max_inflight, max_queued, queue_timeout_s)
        self.limiter = RateLimiter(rate_limit_per_minute, clock)
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings) -> AdmissionControl:
        return cls(settings.max_inflight_generations, settings.max_queued_generations,
                   settings.queue_timeout_s, settings.rate_limit_per_minute)

    async def admit(self, key: str) -> float:
        """Wait for a slot for ``key``'s request; returns when it was taken (for ``release``).

        Raises RateLimited (429) when the key is over its allowance, Overloaded (503) when the queue
        is full or the wait runs out. A request turned away for overload keeps its rate-limit token.
        """
        try:
            self.limiter.take(key)
        except RateLimited:
            metrics.ADMISSION_REJECTIONS.labels("rate_limited").inc()
            raise
        try:
            await self.queue.acquire()
        except Overloaded:
            self.limiter.give_back(key)
            raise
        finally:
            self._observe()
        return self._clock()

    def release(self, taken_at: float) -> None:
        self.queue.release(self._clock() - taken_at)
        self._observe()

    def _observe(self) -> None:
        metrics.ADMISSION_INFLIGHT.set(self.queue.inflight)
        metrics.ADMISSION_QUEUED.set(self.queue.queued)


class AdmissionGate:
    """One request's way through admission control: ``enter`` once, released when the request ends."""

    def __init__(self, control: AdmissionControl) -> None:
        self._control = control
        self._taken_at: float | None = None

    async def enter(self, key: str) -> None:
        """Wait for a generation slot for the API key ``key`` (429 or 503 when there is none)."""
        if self._taken_at is not None:
            raise RuntimeError("this request already holds a generation slot")
        self._taken_at = await self._control.admit(key)

    def release(self) -> None:
        if self._taken_at is not None:
            taken_at, self._taken_at = self._taken_at, None
            self._control.release(taken_at)


async def admission_gate(request: Request) -> AsyncIterator[AdmissionGate]:
    gate = AdmissionGate(request.app.state.admission)
    try:
        yield gate
    finally:
        gate.release()


AdmissionDep = Annotated[AdmissionGate, Depends(admission_gate)]
"""A route parameter; ``await admission.enter(actor.name)`` after validation takes a generation slot."""
