"""The fallback chain, for any task: engines in the configured order, health first, then the work.

An engine is passed over when it is unhealthy, busy, fails, times out or answers malformed output,
or, when the caller reviews answers (the epicrisis output checks), writes one that fails review
while a later engine remains. Every engine passed over is logged, counted in
``alta_engine_fallbacks`` with a reason kind from a closed set, and named in the answer as
``"<kind>: <the engine's explanation>"``; engines keep patient text out of their errors, and the
logs carry the engine, the task and the kind only.

Streams differ in one way: text already sent cannot be taken back, so an engine that fails after
its first chunk ends the stream with :class:`StreamBroken` rather than handing over to the next
engine mid-text. Engines that fail before their first chunk are announced together just before the
writer starts, so a request whose every engine fails before writing is still a plain 503.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import Generic, TypeVar

from backend.core import metrics
from backend.engines.base import Draft, Engine, EngineBusy, EngineError, EngineUnsupported
from backend.services.documents import Fallback
from backend.services.errors import NoEngineAvailable

logger = logging.getLogger(__name__)
T = TypeVar("T")


def reason_kind(exc: EngineError) -> str:
    """The metrics label for why an engine failed: busy, unsupported, timeout, malformed, unhealthy or error.

    Engine errors that know their kind say so with a ``fallback_reason`` class attribute.
    """
    if isinstance(exc, EngineBusy):
        return "busy"
    if isinstance(exc, EngineUnsupported):
        return "unsupported"
    kind = getattr(exc, "fallback_reason", "error")
    return kind if kind in metrics.FALLBACK_REASONS else "error"


@dataclass(frozen=True)
class _Pass:
    engine: str
    kind: str
    detail: str

    @property
    def fallback(self) -> Fallback:
        return Fallback(self.engine, f"{self.kind}: {self.detail}")


class _Passes:
    """The engines passed over for one request, in order."""

    def __init__(self, task: str) -> None:
        self.task = task
        self.items: list[_Pass] = []

    def add(self, engine: Engine, kind: str, detail: str) -> None:
        self.items.append(_Pass(engine.name, kind, detail))
        metrics.fallback(engine.name, self.task, kind)
        logger.warning("engine %s passed over for %s: %s", engine.name, self.task, kind)

    def fallbacks(self, writer: str | None = None) -> list[Fallback]:
        return [p.fallback for p in self.items if not (p.engine == writer and p.kind == "checks")]

    def unavailable(self) -> NoEngineAvailable:
        reasons = "; ".join(f"{p.engine}: {p.kind}: {p.detail}" for p in self.items) or "none is configured"
        return NoEngineAvailable(f"no engine could write the {self.task}: {reasons}")


@dataclass(frozen=True)
class Answer(Generic[T]):
    """What the first engine that could wrote, and the engines passed over before it."""

    engine: Engine
    value: T
    seconds: float
    fallbacks: list[Fallback]


async def _timed(engine: Engine, task: str, call: Callable[[Engine], Awaitable[T]]) -> tuple[T, float]:
    started = time.perf_counter()
    metrics.IN_FLIGHT.labels(engine.name).inc()
    try:
        value = await call(engine)
    finally:
        metrics.IN_FLIGHT.labels(engine.name).dec()
    seconds = time.perf_counter() - started
    metrics.generation(engine.name, task, seconds, getattr(value, "completion_tokens", None))
    return value, seconds


async def first_answer(engines: Sequence[Engine], task: str, call: Callable[[Engine], Awaitable[T]],
                       review: Callable[[T], str | None] | None = None, *,
                       wait_if_busy: bool = False) -> Answer[T]:
    """The first answer a healthy engine writes that passes ``review`` (which returns why not, or None).

    The last engine's answer is kept even when it fails review; so is, when every later engine
    fails, the last answer that failed review: a draft with listed findings beats no draft.
    An engine whose health says busy is passed over as ``busy``, unless ``wait_if_busy`` (a
    background job): then ``call`` is made anyway and may wait for a slot itself.
    Raises NoEngineAvailable, naming every engine and why, when no engine wrote anything.
    """
    passes = _Passes(task)
    rejected: Answer[T] | None = None
    for position, engine in enumerate(engines):
        health = await engine.health()
        if health.status == "down" or (health.status == "busy" and not wait_if_busy):
            passes.add(engine, "busy" if health.status == "busy" else "unhealthy", health.detail)
            continue
        try:
            value, seconds = await _timed(engine, task, call)
        except EngineError as exc:
            passes.add(engine, reason_kind(exc), str(exc))
            continue
        why = review(value) if review is not None else None
        if why is None or position == len(engines) - 1:
            return Answer(engine, value, seconds, passes.fallbacks())
        passes.add(engine, "checks", why)
        rejected = Answer(engine, value, seconds, [])
    if rejected is not None:
        logger.warning("every engine after %s failed; its draft is kept with its findings", rejected.engine.name)
        return Answer(rejected.engine, rejected.value, rejected.seconds, passes.fallbacks(rejected.engine.name))
    raise passes.unavailable()


@dataclass(frozen=True)
class StreamEvent:
    """One step of a streamed answer: fallback (an engine failed before writing), start (the writer
    begins), chunk, or done (the whole text as a Draft, and the engines passed over)."""

    kind: str
    engine: Engine | None = None
    text: str = ""
    draft: Draft | None = None
    fallbacks: tuple[Fallback, ...] = ()


class StreamBroken(Exception):
    """An engine failed after part of its text was already sent; nothing is stored."""


async def first_stream(engines: Sequence[Engine], task: str,
                       open_stream: Callable[[Engine], AsyncIterator[str]]) -> AsyncIterator[StreamEvent]:
    """Stream from the first healthy engine that writes; one that fails before its first chunk is passed over.

    Raises NoEngineAvailable before any event when no engine writes a first chunk, and StreamBroken
    when the writer fails mid-text.
    """
    passes = _Passes(task)
    failed_before_writing: list[StreamEvent] = []
    for engine in engines:
        health = await engine.health()
        if health.status != "ok":
            passes.add(engine, "unhealthy", health.detail)
            continue
        parts: list[str] = []
        started = time.perf_counter()
        metrics.IN_FLIGHT.labels(engine.name).inc()
        try:
            async with aclosing(open_stream(engine)) as chunks:
                async for chunk in chunks:
                    if not parts:
                        for event in failed_before_writing:
                            yield event
                        yield StreamEvent("start", engine)
                    parts.append(chunk)
                    yield StreamEvent("chunk", engine, chunk)
        except EngineError as exc:
            kind = reason_kind(exc)
            if parts:
                logger.warning("engine %s failed mid-stream for %s: %s", engine.name, task, kind)
                raise StreamBroken(f"{engine.name} failed after part of the text was sent: {kind}: {exc}") from None
            passes.add(engine, kind, str(exc))
            failed_before_writing.append(StreamEvent("fallback", engine, str(exc)))
            continue
        finally:
            metrics.IN_FLIGHT.labels(engine.name).dec()
        if not parts:  # an empty answer is still an answer: announce its writer
            for event in failed_before_writing:
                yield event
            yield StreamEvent("start", engine)
        text = "".join(parts)
        metrics.generation(engine.name, task, time.perf_counter() - started, engine.count_tokens(text) if text else None)
        draft = Draft(text, engine.name, engine.model, engine.model_version, engine.demo)
        yield StreamEvent("done", engine, draft=draft, fallbacks=tuple(passes.fallbacks()))
        return
    raise passes.unavailable()
