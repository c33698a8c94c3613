"""Writing an epicrisis draft: the fallback chain with the record review (clinical.checks) as its policy.

One policy for every server path, plain or streamed:
- under the configured chain, a draft that fails the review is never what gets stored while a later
  engine (the template writer, always) can write one that passes: POST passes the engine over, and
  a stream, whose text was already shown, ends with a ``replaced`` event carrying the passing draft;
- when the caller pins an engine (``engine`` in the body), that engine alone writes and its draft is
  stored with its findings in plain view (``checks.ok`` false), never silently replaced.
Every stored draft carries its review; nothing is signed on trust.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from backend.core import metrics
from backend.engines.base import Draft, Engine, RecordWriter
from backend.engines.registry import EngineRegistry
from backend.services.documents import Fallback
from backend.services.errors import NoEngineAvailable
from backend.services.fallback import StreamBroken, StreamEvent, first_answer, first_stream
from clinical.checks import CheckReport, check_draft
from clinical.contract import epicrisis_messages
from clinical.record import HospitalStay

__all__ = ["DraftResult", "ReviewedEvent", "StreamBroken", "StreamEvent", "stream_draft", "stream_with", "write_draft",
           "write_with"]

logger = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class ReviewedEvent:
    """The end of a stream: the reviewed draft to store, and the streamed one it replaced, if any."""

    kind: str  # "reviewed"
    draft: Draft
    checks: CheckReport
    fallbacks: tuple[Fallback, ...]
    replaced: Draft | None = None  # the streamed draft the review threw away
    replaced_checks: CheckReport | None = None


async def write_with(engine: Engine, stay: HospitalStay) -> Draft:
    """One engine's draft for ``stay``: a :class:`RecordWriter` writes from the record itself, a chat
    engine answers the prompt contract's messages for it."""
    if isinstance(engine, RecordWriter):
        return await engine.write(stay)
    c = await engine.complete(epicrisis_messages(stay), "epicrisis")
    return Draft(c.text, c.engine, c.model, c.model_version, engine.demo)


def stream_with(engine: Engine, stay: HospitalStay) -> AsyncIterator[str]:
    """The chunks of :func:`write_with`'s draft as the engine writes them."""
    if isinstance(engine, RecordWriter):
        return engine.stream_write(stay)
    return engine.stream_complete(epicrisis_messages(stay), "epicrisis")


def _candidates(registry: EngineRegistry, pinned: str | None) -> list[Engine]:
    if pinned is not None:
        return [registry.get(pinned)]
    return registry.for_task("epicrisis")


def _why(checks: CheckReport) -> str:
    return f"draft failed the record review ({len(checks.findings)} findings)"


async def _write(stay: HospitalStay, engines: list[Engine]) -> DraftResult:
    async def write(engine: Engine) -> _Checked:
        started = time.perf_counter()
        draft = await write_with(engine, stay)
        latency_ms = (time.perf_counter() - started) * 1000
        return _Checked(draft, check_draft(stay, draft.text), latency_ms)

    def review(written: _Checked) -> str | None:
        return None if written.checks.ok else _why(written.checks)

    answer = await first_answer(engines, "epicrisis", write, review)
    written = answer.value
    return DraftResult(written.draft, written.checks, written.latency_ms, answer.fallbacks)


async def write_draft(stay: HospitalStay, registry: EngineRegistry, pinned: str | None = None) -> DraftResult:
    """The first draft that a healthy engine writes and that passes the review; with ``pinned``,
    that engine's draft whatever its review says (the findings go with it).

    An engine is passed over when it is unhealthy, busy, fails, times out, answers malformed output,
    or writes a draft that fails the review while a later engine remains; the last draft written is
    returned with its findings when no later engine writes one (see ``first_answer``).
    """
    return await _write(stay, _candidates(registry, pinned))


async def stream_draft(stay: HospitalStay, registry: EngineRegistry,
                       pinned: str | None) -> AsyncIterator[StreamEvent | ReviewedEvent]:
    """Stream from the first engine that writes (see ``first_stream``), then review what it wrote.

    Events: ``fallback``/``start``/``chunk`` as ``first_stream`` sends them, then one ``reviewed``
    event with the draft to store. NoEngineAvailable comes before any event when no engine writes;
    StreamBroken when the writer fails mid-draft (the text shown cannot be taken back).
    """
    engines = _candidates(registry, pinned)
    async for event in first_stream(engines, "epicrisis", lambda engine: stream_with(engine, stay)):
        if event.kind != "done":
            yield event
            continue
        draft = event.draft
        checks = check_draft(stay, draft.text)
        later = engines[engines.index(event.engine) + 1:]
        if checks.ok or pinned is not None or not later:
            yield ReviewedEvent("reviewed", draft, checks, event.fallbacks)
            return
        metrics.fallback(event.engine.name, "epicrisis", "checks")
        logger.warning("engine %s passed over for epicrisis after streaming: checks", event.engine.name)
        try:
            replacement = await _write(stay, later)
        except NoEngineAvailable:
            # No later engine could write: the streamed draft is stored with its findings shown.
            yield ReviewedEvent("reviewed", draft, checks, event.fallbacks)
            return
        fallbacks = (*event.fallbacks, Fallback(draft.engine, f"checks: {_why(checks)}"), *replacement.fallbacks)
        yield ReviewedEvent("reviewed", replacement.draft, replacement.checks, fallbacks,
                            replaced=draft, replaced_checks=checks)
        return
