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

__all__ = ["DraftResult", "Replacement", "ReviewedEvent", "StreamBroken", "StreamEvent", "StreamReview",
           "failed_review", "stream_draft", "stream_with", "write_draft", "write_with"]

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

    def result(self, latency_ms: float) -> DraftResult:
        """The draft to store, as :func:`write_draft` returns one."""
        return DraftResult(self.draft, self.checks, latency_ms, list(self.fallbacks))

    def review(self) -> StreamReview:
        """The review of the text the stream showed (failed when it was replaced)."""
        shown = self.replaced_checks if self.replaced_checks is not None else self.checks
        return StreamReview(ok=self.checks.ok if self.replaced is None else False, findings=len(shown.findings),
                            replaced=self.replaced is not None)

    def replacement(self) -> Replacement | None:
        """Why the streamed draft was thrown away and which draft is stored instead; None when it was kept."""
        if self.replaced is None or self.replaced_checks is None:
            return None
        n = len(self.replaced_checks.findings)
        return Replacement(
            engine=self.replaced.engine, findings=n, text=self.draft.text,
            reason=f"El borrador de {self.replaced.engine} no pasó la revisión frente al registro "
                   f"({n} hallazgo{'' if n == 1 else 's'}); se guarda el de {self.draft.engine}.",
            by={"engine": self.draft.engine, "model": self.draft.model})


@dataclass(frozen=True)
class StreamReview:
    """The stream's ``review`` event: did the text shown pass, its findings' count, was it replaced."""

    ok: bool
    findings: int
    replaced: bool


@dataclass(frozen=True)
class Replacement:
    """The stream's ``replaced`` event: the engine whose draft failed, its findings' count, the stored
    text and why (in the page's language), and who wrote the stored draft."""

    engine: str
    findings: int
    text: str
    reason: str
    by: dict[str, str]


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


def failed_review(checks: CheckReport) -> str:
    """Why a draft that failed the review is passed over (counts only: findings quote the record)."""
    return f"draft failed the record review ({len(checks.findings)} findings)"


async def _write(stay: HospitalStay, engines: list[Engine]) -> DraftResult:
    async def write(engine: Engine) -> _Checked:
        started = time.perf_counter()
        draft = await write_with(engine, stay)
        latency_ms = (time.perf_counter() - started) * 1000
        return _Checked(draft, check_draft(stay, draft.text), latency_ms)

    def review(written: _Checked) -> str | None:
        return None if written.checks.ok else failed_review(written.checks)

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
        fallbacks = (*event.fallbacks, Fallback(draft.engine, f"checks: {failed_review(checks)}"), *replacement.fallbacks)
        yield ReviewedEvent("reviewed", replacement.draft, replacement.checks, fallbacks,
                            replaced=draft, replaced_checks=checks)
        return
