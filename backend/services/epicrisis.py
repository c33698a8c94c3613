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
    engines = list(registry)
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


async def pick_streaming_engine(registry: EngineRegistry, preferred: str | None) -> tuple[Engine, list[Fallback]]:
    """The first healthy engine to stream from, and the ones passed over."""
    fallbacks: list[Fallback] = []
    for engine in _candidates(registry, preferred):
        health = await engine.health()
        if health.healthy:
            return engine, fallbacks
        fallbacks.append(Fallback(engine.name, f"unhealthy: {health.detail}"))
    raise NoEngineAvailable("no healthy engine: " + "; ".join(f"{f.engine}: {f.reason}" for f in fallbacks))


async def stream_chunks(engine: Engine, stay: HospitalStay) -> AsyncIterator[str]:
    try:
        async for chunk in engine.stream(stay):
            yield chunk
    except EngineError:
        logger.warning("engine %s failed while streaming", engine.name)
        raise
