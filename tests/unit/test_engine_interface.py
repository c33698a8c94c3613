"""The engine interfaces (issue 19): chat engines answer messages, record writers write from the record,
and the epicrisis service hands each what it takes; health is one of three statuses; one Retry-After rule."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from backend.api.errors import RETRY_AFTER_503_S, retry_after_headers
from backend.engines.base import Completion, Draft, Engine, EngineHealth, RecordWriter
from backend.engines.registry import EngineRegistry
from backend.engines.template import TemplateEngine
from backend.services.admission import Overloaded, RateLimited
from backend.services.epicrisis import stream_draft, stream_with, write_draft, write_with
from backend.services.errors import NoEngineAvailable, VersionConflict
from backend.services.fallback import first_answer
from clinical.contract import GOLDEN_TODAY, epicrisis_messages, example_records
from clinical.record import HospitalStay
from clinical.writer import render_epicrisis


def stay(name: str = "neumonia_chile") -> HospitalStay:
    return HospitalStay.model_validate(example_records()[name], context={"today": GOLDEN_TODAY})


class ChatOnly(Engine):
    """A chat engine that writes the template's text for the record in its messages, and keeps what it was sent."""

    name, model, model_version, demo = "chat", "chat-model", "7", True

    def __init__(self) -> None:
        self.sent: list[tuple[list[dict[str, str]], str]] = []

    async def health(self) -> EngineHealth:
        return EngineHealth("ok")

    async def complete(self, messages, task, params=None) -> Completion:
        self.sent.append((messages, task))
        return Completion(await _template_text(messages), self.name, self.model, self.model_version)

    async def stream_complete(self, messages, task, params=None) -> AsyncIterator[str]:
        self.sent.append((messages, task))
        text = await _template_text(messages)
        for i in range(0, len(text), 40):
            yield text[i:i + 40]


async def _template_text(messages) -> str:
    return (await TemplateEngine().complete(messages, "epicrisis")).text


class RecordingTemplate(TemplateEngine):
    """The template writer, keeping the records it was handed; chat messages are refused loudly."""

    def __init__(self) -> None:
        self.records: list[HospitalStay] = []

    async def write(self, stay: HospitalStay) -> Draft:
        self.records.append(stay)
        return await super().write(stay)

    async def stream_write(self, stay: HospitalStay) -> AsyncIterator[str]:
        self.records.append(stay)
        async for chunk in super().stream_write(stay):
            yield chunk

    async def complete(self, messages, task, params=None) -> Completion:
        raise AssertionError("a record writer is handed the record, not the prompt contract's messages")

    def stream_complete(self, messages, task, params=None) -> AsyncIterator[str]:
        raise AssertionError("a record writer is handed the record, not the prompt contract's messages")


def test_a_chat_engine_receives_exactly_the_prompt_contracts_messages():
    record, engine = stay(), ChatOnly()
    draft = asyncio.run(write_with(engine, record))
    assert engine.sent == [(epicrisis_messages(record), "epicrisis")]
    assert draft == Draft(render_epicrisis(record), "chat", "chat-model", "7", demo=True)  # the engine's demo flag

    async def streamed() -> str:
        return "".join([chunk async for chunk in stream_with(engine, record)])

    assert asyncio.run(streamed()) == draft.text
    assert engine.sent[1] == (epicrisis_messages(record), "epicrisis")
    assert not isinstance(engine, RecordWriter)


def test_the_template_writer_receives_the_record_itself():
    record, writer = stay("minimo"), RecordingTemplate()
    assert isinstance(writer, RecordWriter) and isinstance(writer, Engine)
    draft = asyncio.run(write_with(writer, record))
    assert writer.records == [record] and writer.records[0] is record
    assert draft == Draft(render_epicrisis(record), "template", writer.model, writer.model_version, demo=False)

    async def streamed() -> str:
        return "".join([chunk async for chunk in stream_with(writer, record)])

    assert asyncio.run(streamed()) == draft.text and writer.records == [record, record]


def test_the_service_dispatches_each_engine_of_the_chain_by_its_interface():
    record = stay()
    chat, writer = ChatOnly(), RecordingTemplate()
    chat_first = EngineRegistry([chat, writer])
    result = asyncio.run(write_draft(record, chat_first))
    assert result.draft.engine == "chat" and result.checks.ok and result.fallbacks == []
    assert chat.sent == [(epicrisis_messages(record), "epicrisis")] and writer.records == []

    pinned = asyncio.run(write_draft(record, chat_first, "template"))
    assert pinned.draft.engine == "template" and writer.records == [record] and len(chat.sent) == 1

    async def events() -> list:
        return [event async for event in stream_draft(record, EngineRegistry([writer, chat]), None)]

    streamed = asyncio.run(events())
    assert [e.kind for e in streamed][0] == "start" and streamed[-1].kind == "reviewed"
    assert streamed[-1].draft.text == render_epicrisis(record) and writer.records == [record, record]
    assert len(chat.sent) == 1  # the writer wrote: the chat engine was never asked


def test_the_template_engine_still_answers_the_contracts_chat_message():
    record = stay()
    completion = asyncio.run(TemplateEngine().complete(epicrisis_messages(record), "epicrisis"))
    assert completion.text == render_epicrisis(record) and completion.engine == "template"
    assert TemplateEngine().chat_tasks() == ("epicrisis",)


@pytest.mark.parametrize(("health", "status", "healthy", "busy"), [
    (EngineHealth("ok", "up"), "ok", True, False),
    (EngineHealth("busy", "2/2 generating"), "busy", False, True),
    (EngineHealth("down", "not loaded"), "down", False, False),
    # the older (healthy, detail, busy=) form reads as the same statuses
    (EngineHealth(True, "up"), "ok", True, False),
    (EngineHealth(False, "2/2 generating", busy=True), "busy", False, True),
    (EngineHealth(False, "not loaded"), "down", False, False),
])
def test_health_is_one_of_three_statuses(health, status, healthy, busy):
    assert (health.status, health.healthy, health.busy) == (status, healthy, busy)


def test_a_health_status_outside_the_three_is_refused():
    with pytest.raises(ValueError, match="ok, busy, down"):
        EngineHealth("degraded", "half up")  # type: ignore[arg-type]


def test_the_template_engine_is_always_ok():
    assert asyncio.run(TemplateEngine().health()) == EngineHealth("ok", "jinja2 templates loaded")


class Health(Engine):
    name, model, model_version, tasks = "h", "h", "1", ("epicrisis",)

    def __init__(self, name: str, status: str) -> None:
        self.name, self.status, self.calls = name, status, 0

    async def health(self) -> EngineHealth:
        return EngineHealth(self.status, f"{self.status} here")  # type: ignore[arg-type]

    async def complete(self, messages, task, params=None) -> Completion:
        self.calls += 1
        return Completion("texto", self.name, self.model, self.model_version)


def test_busy_and_down_engines_are_passed_over_with_their_own_reasons():
    busy, down, ok = Health("busy-one", "busy"), Health("down-one", "down"), Health("ok-one", "ok")
    answer = asyncio.run(first_answer([busy, down, ok], "epicrisis", lambda e: e.complete([], "epicrisis")))
    assert answer.engine is ok and (busy.calls, down.calls) == (0, 0)
    assert [(f.engine, f.reason) for f in answer.fallbacks] == [
        ("busy-one", "busy: busy here"), ("down-one", "unhealthy: down here")]
    # A background job waits for a busy engine; a down one is still passed over.
    waited = asyncio.run(first_answer([down, busy], "epicrisis", lambda e: e.complete([], "epicrisis"),
                                      wait_if_busy=True))
    assert waited.engine is busy and busy.calls == 1 and down.calls == 0
    with pytest.raises(NoEngineAvailable, match="down-one: unhealthy: down here"):
        asyncio.run(first_answer([down], "epicrisis", lambda e: e.complete([], "epicrisis"), wait_if_busy=True))


def test_retry_after_is_said_for_temporary_errors_only():
    assert retry_after_headers(RateLimited("over the limit", retry_after_s=17)) == {"Retry-After": "17"}
    assert retry_after_headers(Overloaded("queue full", retry_after_s=3)) == {"Retry-After": "3"}
    assert retry_after_headers(NoEngineAvailable("none")) == {"Retry-After": str(RETRY_AFTER_503_S)}
    assert RETRY_AFTER_503_S == 5
    assert retry_after_headers(VersionConflict("stale")) is None
