"""The fallback chain: order, health, reason kinds, review, metrics, and streams that cannot switch mid-text."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from backend.core import metrics
from backend.engines.base import (
    Completion,
    Engine,
    EngineBusy,
    EngineError,
    EngineHealth,
    EngineUnsupported,
)
from backend.engines.openai_protocol import MalformedAnswer
from backend.engines.vllm import VllmTimeout, VllmUnavailable
from backend.services.errors import NoEngineAvailable
from backend.services.fallback import StreamBroken, first_answer, first_stream, reason_kind

TASK = "unit-task"  # its own metrics label, so counts from other tests do not mix in


class Scripted(Engine):
    """An engine that answers, or fails with ``error`` (after ``chunks_before_error`` chunks when streaming)."""

    def __init__(self, name: str, text: str = "", *, healthy: bool = True, error: EngineError | None = None,
                 chunks_before_error: int = 0) -> None:
        self.name, self.model, self.model_version, self.tasks = name, f"{name}-model", "1", (TASK,)
        self.text, self.healthy, self.error, self.chunks_before_error = text, healthy, error, chunks_before_error
        self.calls = 0
        self.closed = False

    async def health(self) -> EngineHealth:
        return EngineHealth(self.healthy, "ok" if self.healthy else "not loaded")

    async def complete(self, messages, task, params=None) -> Completion:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return Completion(self.text, self.name, self.model, self.model_version, completion_tokens=len(self.text))

    async def stream_complete(self, messages, task, params=None) -> AsyncIterator[str]:
        self.calls += 1
        try:
            for i, word in enumerate(self.text.split(" ")):
                if self.error is not None and i == self.chunks_before_error:
                    raise self.error
                yield word + " "
            if self.error is not None:
                raise self.error
        finally:
            self.closed = True


def count(engine: str, reason: str) -> float:
    return metrics.REGISTRY.get_sample_value(
        "alta_engine_fallbacks_total", {"engine": engine, "task": TASK, "reason": reason}) or 0.0


def answer(engines, review=None):
    return asyncio.run(first_answer(engines, TASK, lambda e: e.complete([], TASK), review))


@pytest.mark.parametrize(("error", "kind"), [
    (EngineBusy("all slots taken"), "busy"),
    (EngineUnsupported("no chat"), "unsupported"),
    (VllmTimeout("no first token within 30 s"), "timeout"),
    (MalformedAnswer("the stream closed before [DONE]"), "malformed"),
    (VllmUnavailable("connection refused"), "unhealthy"),
    (EngineError("HTTP 500"), "error"),
])
def test_every_failure_has_a_kind_from_the_closed_set(error, kind):
    assert reason_kind(error) == kind and kind in metrics.FALLBACK_REASONS


def test_engines_are_tried_in_order_and_each_passed_over_is_named_and_counted():
    down = Scripted("down", healthy=False)
    busy = Scripted("busy", error=EngineBusy("all slots taken"))
    slow = Scripted("slow", error=VllmTimeout("no first token within 30 s"))
    good = Scripted("good", "texto")
    never = Scripted("never", "no")
    before = [count("down", "unhealthy"), count("busy", "busy"), count("slow", "timeout")]
    result = answer([down, busy, slow, good, never])
    assert result.engine is good and result.value.text == "texto"
    assert [(f.engine, f.reason) for f in result.fallbacks] == [
        ("down", "unhealthy: not loaded"), ("busy", "busy: all slots taken"),
        ("slow", "timeout: no first token within 30 s")]
    assert (down.calls, never.calls) == (0, 0)
    assert [count("down", "unhealthy"), count("busy", "busy"), count("slow", "timeout")] == [b + 1 for b in before]
    assert metrics.REGISTRY.get_sample_value("alta_generated_tokens_total", {"engine": "good", "task": TASK}) >= 5


def test_an_answer_failing_review_falls_to_the_next_but_the_last_is_kept():
    review = lambda c: None if c.text == "bueno" else "draft failed output checks (2 findings)"  # noqa: E731
    result = answer([Scripted("a", "malo"), Scripted("b", "bueno")], review)
    assert result.engine.name == "b"
    assert [(f.engine, f.reason) for f in result.fallbacks] == [("a", "checks: draft failed output checks (2 findings)")]
    last = answer([Scripted("a", "bueno"), Scripted("b", "malo")], lambda c: "never good")
    assert last.engine.name == "b" and [f.engine for f in last.fallbacks] == ["a"]


def test_a_draft_with_findings_beats_no_draft():
    result = answer([Scripted("a", "malo"), Scripted("b", error=EngineError("HTTP 500"))], lambda c: "2 findings")
    assert result.engine.name == "a" and result.value.text == "malo"
    assert [(f.engine, f.reason) for f in result.fallbacks] == [("b", "error: HTTP 500")]


def test_no_engine_is_a_503_naming_every_engine_and_why():
    with pytest.raises(NoEngineAvailable) as info:
        answer([Scripted("down", healthy=False), Scripted("busy", error=EngineBusy("all slots taken"))])
    assert info.value.status_code == 503
    assert str(info.value).endswith("down: unhealthy: not loaded; busy: busy: all slots taken")


async def events_of(engines) -> list[tuple[str, str, str]]:
    return [(e.kind, e.engine.name, e.text) async for e in first_stream(engines, TASK, lambda e: e.stream_complete([], TASK))]


def test_stream_announces_engines_passed_over_just_before_the_writer():
    events = asyncio.run(events_of([Scripted("down", healthy=False), Scripted("busy", "x", error=EngineBusy("full")),
                                    Scripted("good", "uno dos")]))
    assert events == [("fallback", "busy", "full"), ("start", "good", ""), ("chunk", "good", "uno "),
                      ("chunk", "good", "dos "), ("done", "good", "")]

    async def done():
        async for event in first_stream([Scripted("down", healthy=False), Scripted("good", "uno")], TASK,
                                        lambda e: e.stream_complete([], TASK)):
            if event.kind == "done":
                return event

    event = asyncio.run(done())
    assert event.draft.text == "uno " and event.draft.engine == "good"
    assert [(f.engine, f.reason) for f in event.fallbacks] == [("down", "unhealthy: not loaded")]


def test_stream_that_no_engine_starts_is_a_503_before_any_event():
    engines = [Scripted("a", "x", error=MalformedAnswer("the stream closed before [DONE]")),
               Scripted("b", "x", error=VllmTimeout("no first token"))]
    with pytest.raises(NoEngineAvailable, match="a: malformed: the stream closed before"):
        asyncio.run(events_of(engines))


def test_stream_broken_mid_text_does_not_switch_engines():
    broken = Scripted("vllm", "uno dos tres", error=MalformedAnswer("the stream closed before [DONE]"),
                      chunks_before_error=2)
    spare = Scripted("template", "plantilla")
    seen: list[tuple[str, str]] = []

    async def scenario():
        async for event in first_stream([broken, spare], TASK, lambda e: e.stream_complete([], TASK)):
            seen.append((event.kind, event.text))

    with pytest.raises(StreamBroken, match="vllm failed after part of the text was sent: malformed"):
        asyncio.run(scenario())
    assert seen == [("start", ""), ("chunk", "uno "), ("chunk", "dos ")] and spare.calls == 0


def test_a_client_that_leaves_closes_the_engine_stream():
    engine = Scripted("good", "uno dos tres")

    async def scenario():
        events = first_stream([engine], TASK, lambda e: e.stream_complete([], TASK))
        while (await anext(events)).kind != "chunk":
            pass
        await events.aclose()

    asyncio.run(scenario())
    assert engine.closed
    assert metrics.REGISTRY.get_sample_value("alta_generations_in_flight", {"engine": "good"}) == 0
