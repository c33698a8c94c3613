"""The engine interface every draft writer implements, and the registry that orders them."""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from backend.core.config import Settings
from clinical.record import HospitalStay


class EngineError(Exception):
    """An engine could not write a draft (down, timed out, malformed output)."""


class EngineBusy(EngineError):
    """Every generation slot of the engine is taken; the next engine in the order is tried."""


@dataclass(frozen=True)
class EngineHealth:
    healthy: bool
    detail: str = ""


@dataclass(frozen=True)
class Draft:
    """A finished draft and who wrote it."""

    text: str
    engine: str
    model: str
    model_version: str


class Engine(abc.ABC):
    """Writes an epicrisis draft from a record; ``stream`` yields the same text in chunks."""

    name: str
    model: str
    model_version: str
    tasks: tuple[str, ...] = ("epicrisis",)

    @abc.abstractmethod
    async def generate(self, stay: HospitalStay) -> Draft: ...

    @abc.abstractmethod
    def stream(self, stay: HospitalStay) -> AsyncIterator[str]:
        """Chunks whose concatenation is exactly what ``generate`` returns."""

    @abc.abstractmethod
    async def health(self) -> EngineHealth: ...


EngineFactory = Callable[[Settings], Engine]


class EngineRegistry:
    """Engines by name, in the configured fallback order."""

    def __init__(self, engines: list[Engine]) -> None:
        if not engines:
            raise ValueError("configure at least one engine (ALTA_ENGINES), e.g. [\"template\"]")
        self._engines = {e.name: e for e in engines}
        self.order = [e.name for e in engines]

    def __iter__(self):
        return (self._engines[name] for name in self.order)

    def get(self, name: str) -> Engine:
        try:
            return self._engines[name]
        except KeyError:
            raise KeyError(f"unknown engine {name!r}; available: {', '.join(self.order)}") from None


_FACTORIES: dict[str, EngineFactory] = {}


def register(name: str) -> Callable[[EngineFactory], EngineFactory]:
    def wrap(factory: EngineFactory) -> EngineFactory:
        _FACTORIES[name] = factory
        return factory
    return wrap


def build_registry(names: list[str], settings: Settings) -> EngineRegistry:
    # Importing the modules registers their factories; an engine whose module is missing is a
    # configuration error raised at start-up, not at the first request.
    from backend.engines import onnx, template  # noqa: F401

    unknown = [n for n in names if n not in _FACTORIES]
    if unknown:
        raise ValueError(f"ALTA_ENGINES names unknown engines {unknown}; known: {sorted(_FACTORIES)}")
    return EngineRegistry([_FACTORIES[n](settings) for n in names])
