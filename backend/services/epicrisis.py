"""Writing a draft: the configured engines in order, output checks, and why any was passed over."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from backend.engines.base import Draft, Engine, EngineError, EngineRegistry
from backend.services.documents import Fallback
from backend.services.errors import NoEngineAvailable
from clinical.checks import CheckReport, check_draft
from clinical.record import HospitalStay

logger = logging.getLogger(__name__)


@dataclass
class DraftResult:
    draft: Draft
    checks: CheckReport
    latency_ms: float
    fallbacks: list[Fallback] = field(default_factory=list)


def _candidates(registry: EngineRegistry, preferred: str | None) -> list[Engine]:
    engines = registry.for_task("epicrisis")
    if preferred is not None:
        chosen = registry.get(preferred)
        engines = [chosen] + [e for e in engines if e is not chosen]
    return engines


async def write_draft(stay: HospitalStay, registry: EngineRegistry, preferred: str | None = None) -> DraftResult:
    """The first draft that a healthy engine writes and that passes the output checks.

    An engine is passed over when it is unhealthy, fails, or writes a draft that fails the checks
    while a later engine remains; the last engine's draft is returned with its findings.
    """
    fallbacks: list[Fallback] = []
    engines = _candidates(registry, preferred)
    for i, engine in enumerate(engines):
        health = await engine.health()
        if not health.healthy:
            fallbacks.append(Fallback(engine.name, f"unhealthy: {health.detail}"))
            continue
        started = time.perf_counter()
        try:
            draft = await engine.generate(stay)
        except EngineError as exc:
            fallbacks.append(Fallback(engine.name, f"failed: {exc}"))
            logger.warning("engine %s failed, falling back", engine.name)
            continue
        latency_ms = (time.perf_counter() - started) * 1000
        checks = check_draft(stay, draft.text)
        if not checks.ok and i < len(engines) - 1:
            fallbacks.append(Fallback(engine.name, f"draft failed output checks ({len(checks.findings)} findings)"))
            logger.warning("engine %s draft failed checks, falling back", engine.name)
            continue
        return DraftResult(draft, checks, latency_ms, fallbacks)
    raise NoEngineAvailable("no engine could write a draft: " + "; ".join(f"{f.engine}: {f.reason}" for f in fallbacks))


@dataclass(frozen=True)
class StreamEvent:
    """One step of a streamed draft: start (an engine begins), chunk, fallback, or done."""

    kind: str
    engine: Engine | None = None
    text: str = ""
    draft: Draft | None = None
    fallbacks: tuple[Fallback, ...] = ()


class StreamBroken(Exception):
    """An engine failed after some of its draft was already streamed; nothing is stored."""


async def stream_draft(stay: HospitalStay, registry: EngineRegistry, preferred: str | None) -> AsyncIterator[StreamEvent]:
    """Stream from the first engine that can; one that fails before its first chunk is passed over.

    Raises NoEngineAvailable before anything is streamed when no engine is healthy, and
    StreamBroken when an engine fails mid-draft (the text shown cannot be taken back).
    """
    fallbacks: list[Fallback] = []
    engines = []
    for engine in _candidates(registry, preferred):
        health = await engine.health()
        if health.healthy:
            engines.append(engine)
        else:
            fallbacks.append(Fallback(engine.name, f"unhealthy: {health.detail}"))
    if not engines:
        raise NoEngineAvailable("no healthy engine: " + "; ".join(f"{f.engine}: {f.reason}" for f in fallbacks))
    for engine in engines:
        parts: list[str] = []
        try:
            async for chunk in engine.stream(stay):
                if not parts:
                    yield StreamEvent("start", engine)
                parts.append(chunk)
                yield StreamEvent("chunk", engine, chunk)
        except EngineError as exc:
            if parts:
                logger.warning("engine %s failed mid-stream", engine.name)
                raise StreamBroken(f"{engine.name} failed after part of the draft was sent: {exc}") from None
            fallbacks.append(Fallback(engine.name, f"failed: {exc}"))
            yield StreamEvent("fallback", engine, str(exc))
            continue
        draft = Draft("".join(parts), engine.name, engine.model, engine.model_version)
        yield StreamEvent("done", engine, draft=draft, fallbacks=tuple(fallbacks))
        return
    raise StreamBroken("every engine failed: " + "; ".join(f"{f.engine}: {f.reason}" for f in fallbacks))
