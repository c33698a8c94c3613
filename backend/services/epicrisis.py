"""Writing an epicrisis draft: the fallback chain with the output checks as its review."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from backend.engines.base import Draft, Engine, EngineRegistry
from backend.services.documents import Fallback
from backend.services.fallback import StreamBroken, StreamEvent, first_answer, first_stream
from clinical.checks import CheckReport, check_draft
from clinical.record import HospitalStay

__all__ = ["DraftResult", "StreamBroken", "StreamEvent", "stream_draft", "write_draft"]


@dataclass
class DraftResult:
    draft: Draft
    checks: CheckReport
    latency_ms: float
    fallbacks: list[Fallback] = field(default_factory=list)


@dataclass(frozen=True)
class _Checked:
    draft: Draft
    checks: CheckReport
    latency_ms: float  # the engine's time, without the checks


def _candidates(registry: EngineRegistry, preferred: str | None) -> list[Engine]:
    engines = registry.for_task("epicrisis")
    if preferred is not None:
        chosen = registry.get(preferred)
        engines = [chosen] + [e for e in engines if e is not chosen]
    return engines


async def write_draft(stay: HospitalStay, registry: EngineRegistry, preferred: str | None = None) -> DraftResult:
    """The first draft that a healthy engine writes and that passes the output checks.

    An engine is passed over when it is unhealthy, busy, fails, times out, answers malformed output,
    or writes a draft that fails the checks while a later engine remains; the last draft written is
    returned with its findings when no later engine writes one (see ``first_answer``).
    """

    async def write(engine: Engine) -> _Checked:
        started = time.perf_counter()
        draft = await engine.generate(stay)
        latency_ms = (time.perf_counter() - started) * 1000
        return _Checked(draft, check_draft(stay, draft.text), latency_ms)

    def review(written: _Checked) -> str | None:
        return None if written.checks.ok else \
            f"draft failed output checks ({len(written.checks.findings)} findings)"

    answer = await first_answer(_candidates(registry, preferred), "epicrisis", write, review)
    written = answer.value
    return DraftResult(written.draft, written.checks, written.latency_ms, answer.fallbacks)


def stream_draft(stay: HospitalStay, registry: EngineRegistry, preferred: str | None) -> AsyncIterator[StreamEvent]:
    """Stream from the first engine that writes (see ``first_stream``): NoEngineAvailable before any
    event when none does, StreamBroken when the writer fails mid-draft (the text shown cannot be
    taken back, so no other engine takes over mid-text)."""
    return first_stream(_candidates(registry, preferred), "epicrisis", lambda engine: engine.stream(stay))
