"""Chat completions (what ``/v1`` serves): which engines a model name means, and the fallback chain's
answer to chat messages, reviewed against the record when the messages carry one.

The ``model`` names a task (``epicrisis``, ``translation``), answered by the engines that chat in the
configured fallback order, or one engine's model (``onnx/epicrisis``), answered by that engine
alone. An epicrisis prompt that carries the prompt contract's record is reviewed against it, as on
every other path: a failing answer is passed over while a later engine remains, and a streamed one
(whose text is already sent) ends with its review.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import TypeVar

from backend.engines.base import Completion, ContextLengthExceeded, Engine, GenerationParams, Messages
from backend.engines.registry import EngineRegistry
from backend.services.documents import Fallback
from backend.services.epicrisis import failed_review
from backend.services.errors import DomainError, NoEngineAvailable
from backend.services.fallback import StreamBroken, first_answer, first_stream
from clinical.checks import CheckReport, check_draft
from clinical.contract import record_from_messages
from clinical.record import HospitalStay

__all__ = ["ChatAnswer", "ChatEnd", "ChatStream", "ContextLengthError", "ModelNotFound", "StreamBroken", "Target",
           "complete_chat", "resolve", "served_models", "stream_chat"]

T = TypeVar("T")


class ModelNotFound(DomainError):
    status_code = 404
    code = "model_not_found"


class ContextLengthError(DomainError):
    """The prompt is longer than every model that could answer it can read: 400, never a 503 to retry."""

    status_code = 400
    code = "context_length_exceeded"


# --- what a model name means ----------------------------------------------------------------


def served_models(registry: EngineRegistry) -> list[str]:
    """Tasks first (in the order the engines list them), then ``<engine>/<task>`` for each engine,
    for the tasks each engine declares it answers as chat (:meth:`Engine.chat_tasks`)."""
    tasks = list(dict.fromkeys(t for e in registry for t in e.chat_tasks()))
    return tasks + [f"{e.name}/{t}" for e in registry for t in e.chat_tasks()]


@dataclass(frozen=True)
class Target:
    """The task a model name asks for and the engines that answer it, in order."""

    task: str
    engines: list[Engine]


def resolve(registry: EngineRegistry, model: str) -> Target:
    if model not in served_models(registry):
        # The name is the client's text: not repeated, the choices are listed instead.
        raise ModelNotFound("the model named in `model` is not served here; GET /v1/models lists them: "
                            + ", ".join(served_models(registry)))
    name, sep, task = model.partition("/")
    if sep:
        return Target(task, [registry.get(name)])
    return Target(model, [e for e in registry.for_task(model) if e.chats(model)])


# --- prompts too long for every model -------------------------------------------------------


class _TooLong:
    """Remembers the engines that refused the prompt as too long for their context."""

    def __init__(self) -> None:
        self.contexts: list[int | None] = []

    def wrap(self, call: Callable[[Engine], Awaitable[T]]) -> Callable[[Engine], Awaitable[T]]:
        async def called(engine: Engine) -> T:
            try:
                return await call(engine)
            except ContextLengthExceeded as exc:
                self.contexts.append(exc.context)
                raise
        return called

    def wrap_stream(self, call: Callable[[Engine], AsyncIterator[str]]) -> Callable[[Engine], AsyncIterator[str]]:
        async def called(engine: Engine) -> AsyncIterator[str]:
            try:
                async for piece in call(engine):
                    yield piece
            except ContextLengthExceeded as exc:
                self.contexts.append(exc.context)
                raise
        return called

    def error(self, unavailable: NoEngineAvailable) -> DomainError:
        """A 400 when an engine refused the prompt as too long and none answered; else the 503."""
        if not self.contexts:
            return unavailable
        known = [c for c in self.contexts if c is not None]
        size = f"{max(known)} tokens" if known else "its limit"
        return ContextLengthError(f"the messages are longer than the model's context ({size}, prompt and answer "
                                  "together): shorten them or lower max_tokens")


# --- answers --------------------------------------------------------------------------------


def _record(target: Target, messages: Messages) -> HospitalStay | None:
    """The record an epicrisis prompt carries (the prompt contract's user message), to review the answer by."""
    return record_from_messages(messages) if target.task == "epicrisis" else None


@dataclass(frozen=True)
class ChatAnswer:
    """A whole answer: the completion, whether a demonstration model wrote it, the engines passed over,
    and the review against the record (None when the messages carry no record)."""

    completion: Completion
    demo: bool
    fallbacks: list[Fallback]
    checks: CheckReport | None


async def complete_chat(target: Target, messages: Messages, params: GenerationParams) -> ChatAnswer:
    """The first answer a healthy engine of ``target`` writes (that passes the review, with a record).

    Raises NoEngineAvailable (503) when none answers, ContextLengthError (400) when the engines that
    could have answered refused the prompt as too long for them.
    """
    stay = _record(target, messages)
    reviews: dict[int, CheckReport] = {}
    review = None
    if stay is not None:
        def review(c: Completion) -> str | None:
            report = reviews[id(c)] = check_draft(stay, c.text)
            return None if report.ok else failed_review(report)
    too_long = _TooLong()
    try:
        answer = await first_answer(target.engines, target.task,
                                    too_long.wrap(lambda engine: engine.complete(messages, target.task, params)),
                                    review)
    except NoEngineAvailable as exc:
        raise too_long.error(exc) from None
    completion: Completion = answer.value
    checks = reviews[id(completion)] if stay is not None else None
    return ChatAnswer(completion, answer.engine.demo, answer.fallbacks, checks)


@dataclass(frozen=True)
class ChatEnd:
    """The end of a streamed answer: the engines passed over, and the review of the text already sent
    (reviewed, never replaced; None when the messages carry no record)."""

    fallbacks: tuple[Fallback, ...]
    checks: CheckReport | None


@dataclass(frozen=True)
class ChatStream:
    """A streamed answer whose writer has started: ``events`` yields the text's chunks, then one
    :class:`ChatEnd`; it raises StreamBroken when the writer fails mid-text."""

    writer: Engine
    events: AsyncIterator[str | ChatEnd]


async def stream_chat(target: Target, messages: Messages, params: GenerationParams) -> ChatStream:
    """Stream from the first engine of ``target`` that writes (see ``first_stream``).

    Engines that fail before writing are read past here, up to the writer's start, so a request no
    engine answers is still a plain error (NoEngineAvailable, or ContextLengthError for a prompt too
    long) before anything is sent, and the writer is known before the first byte.
    """
    stay = _record(target, messages)
    too_long = _TooLong()
    events = first_stream(target.engines, target.task,
                          too_long.wrap_stream(lambda engine: engine.stream_complete(messages, target.task, params)))
    try:
        while (event := await anext(events)).kind == "fallback":
            pass
    except NoEngineAvailable as exc:
        raise too_long.error(exc) from None

    async def rest() -> AsyncIterator[str | ChatEnd]:
        async with aclosing(events):
            async for step in events:
                if step.kind == "chunk":
                    yield step.text
                elif step.kind == "done":
                    yield ChatEnd(step.fallbacks, check_draft(stay, step.draft.text) if stay is not None else None)

    return ChatStream(event.engine, rest())
