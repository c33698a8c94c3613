"""The engine interface (chat level) and the record-writer interface; the registry orders engines."""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal

from backend.core.config import Settings
from clinical.record import HospitalStay

Messages = list[dict[str, str]]
"""Chat messages, ``{"role": "system"|"user"|"assistant", "content": str}``, as in the prompt contract."""


class EngineError(Exception):
    """An engine could not write a draft (down, timed out, malformed output)."""


class EngineBusy(EngineError):
    """Every generation slot of the engine is taken; the next engine in the order is tried."""


class EngineUnsupported(EngineError):
    """The engine cannot do this task (the template engine writes epicrisis only, never translations)."""


class ContextLengthExceeded(EngineError):
    """The prompt does not fit the model's context: a verdict on the request, which a retry cannot change."""

    def __init__(self, message: str, context: int | None = None) -> None:
        super().__init__(message)
        self.context = context


@dataclass(frozen=True)
class GenerationParams:
    """Per-request decoding settings; ``None`` keeps the engine's configured default."""

    max_new_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None


@dataclass(frozen=True)
class Completion:
    """A finished chat completion and who wrote it."""

    text: str
    engine: str
    model: str
    model_version: str
    finish_reason: str = "stop"  # "stop" (end of turn) or "length" (max_new_tokens reached)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


HealthStatus = Literal["ok", "busy", "down"]
HEALTH_STATUSES: tuple[HealthStatus, ...] = ("ok", "busy", "down")


@dataclass(frozen=True, init=False)
class EngineHealth:
    """Whether the engine can take work now, as one of three statuses:

    - ``ok``: it takes work;
    - ``busy``: it is up but every slot is taken (a request passes it over, a background job may
      wait for it);
    - ``down``: not running, unreachable or misconfigured (``detail`` says which, and what to set).
    """

    status: HealthStatus
    detail: str

    def __init__(self, status: HealthStatus | bool, detail: str = "", busy: bool = False) -> None:
        # The older form, (healthy, detail, busy=...), still reads: True is ok, False is busy with
        # ``busy``, else down.
        if isinstance(status, bool):
            status = "ok" if status else "busy" if busy else "down"
        if status not in HEALTH_STATUSES:
            raise ValueError(f"engine health status must be one of {', '.join(HEALTH_STATUSES)}, not {status!r}")
        object.__setattr__(self, "status", status)
        object.__setattr__(self, "detail", detail)

    @property
    def healthy(self) -> bool:
        """It takes work now (status ``ok``)."""
        return self.status == "ok"

    @property
    def busy(self) -> bool:
        return self.status == "busy"


@dataclass(frozen=True)
class Draft:
    """A finished draft and who wrote it."""

    text: str
    engine: str
    model: str
    model_version: str
    demo: bool = False  # written by a demonstration model


class Engine(abc.ABC):
    """A model engine at chat level: ``complete``/``stream_complete`` answer chat messages for a task.

    ``tasks`` names what the engine was trained for ("epicrisis", "translation"); callers pick engines
    with :meth:`EngineRegistry.for_task`. An engine asked for a task it lacks raises EngineUnsupported.
    :meth:`chat_tasks` declares which of them it answers as chat messages (``/v1``). Turning a record
    into messages is the epicrisis service's work (``backend.services.epicrisis``), not an engine's;
    an engine that writes from the record itself also implements :class:`RecordWriter`.
    """

    name: str
    model: str
    model_version: str
    tasks: tuple[str, ...] = ("epicrisis",)
    demo: bool = False  # a demonstration model: every draft it writes says so

    def supports(self, task: str) -> bool:
        return task in self.tasks

    def chat_tasks(self) -> tuple[str, ...]:
        """The tasks this engine answers as chat messages (``complete``/``stream_complete``, so ``/v1``).

        Every task by default; an engine that writes only from records returns ``()``. Declared, not
        guessed from which methods a subclass overrides.
        """
        return self.tasks

    def chats(self, task: str) -> bool:
        return task in self.chat_tasks()

    def _unsupported(self, task: str) -> EngineUnsupported:
        return EngineUnsupported(f"engine {self.name!r} does not do {task!r} (it does: {', '.join(self.tasks)})")

    async def complete(self, messages: Messages, task: str, params: GenerationParams | None = None) -> Completion:
        """The assistant's answer to ``messages``, written by this engine's model for ``task``."""
        raise self._unsupported(task)

    def stream_complete(self, messages: Messages, task: str,
                        params: GenerationParams | None = None) -> AsyncIterator[str]:
        """Chunks whose concatenation is exactly what ``complete`` returns for the same request."""
        raise self._unsupported(task)

    @classmethod
    def from_settings(cls, settings: Settings) -> Engine:
        """The engine as ``ALTA_*`` settings configure it (what the registry builds)."""
        return cls()

    @abc.abstractmethod
    async def health(self) -> EngineHealth:
        """ok, busy or down (:class:`EngineHealth`), and why."""

    def count_tokens(self, text: str) -> int | None:
        """How many of this engine's tokens ``text`` is, when the engine has a tokenizer here."""
        return None

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release threads, sockets and sessions at shutdown."""

    async def aclose(self) -> None:
        """What the app awaits at shutdown: :meth:`close`, or an engine's own async clean-up."""
        self.close()


class RecordWriter(abc.ABC):
    """Writes an epicrisis from the structured record itself, not from chat messages (the template writer).

    The epicrisis service dispatches on it: a record writer is handed the record, every other engine
    the prompt contract's messages for it (``clinical.contract.epicrisis_messages``).
    """

    @abc.abstractmethod
    async def write(self, stay: HospitalStay) -> Draft:
        """The whole draft for ``stay``."""

    @abc.abstractmethod
    def stream_write(self, stay: HospitalStay) -> AsyncIterator[str]:
        """Chunks whose concatenation is exactly the text :meth:`write` returns."""
