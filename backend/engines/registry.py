"""The engines by name, in the configured fallback order, built from ``ALTA_ENGINES``."""

from __future__ import annotations

import importlib

from backend.core.config import Settings
from backend.engines.base import Engine

ENGINES: dict[str, str] = {
    "vllm": "backend.engines.vllm:VllmEngine",
    "onnx": "backend.engines.onnx:OnnxEngine",
    "template": "backend.engines.template:TemplateEngine",
    "apertium": "backend.engines.apertium:ApertiumEngine",
}
"""Engine classes by configured name, as ``module:Class``: imported only when configured (onnx pulls in
ONNX Runtime), and named rather than imported here so no engine module imports the registry back."""


class EngineRegistry:
    """Engines by name, in the configured fallback order."""

    def __init__(self, engines: list[Engine]) -> None:
        if not engines:
            raise ValueError("configure at least one engine (ALTA_ENGINES), e.g. [\"template\"]")
        self._engines = {e.name: e for e in engines}
        self.order = [e.name for e in engines]

    def __iter__(self):
        return (self._engines[name] for name in self.order)

    def for_task(self, task: str) -> list[Engine]:
        """The engines that do ``task``, in the configured order."""
        return [e for e in self if e.supports(task)]

    def get(self, name: str) -> Engine:
        try:
            return self._engines[name]
        except KeyError:
            raise KeyError(f"unknown engine {name!r}; available: {', '.join(self.order)}") from None


def engine_class(name: str) -> type[Engine]:
    module, _, cls = ENGINES[name].partition(":")
    return getattr(importlib.import_module(module), cls)


def build_registry(names: list[str], settings: Settings) -> EngineRegistry:
    # Every configured engine is imported and built here: an engine whose module is missing is a
    # configuration error raised at start-up, not at the first request.
    unknown = [n for n in names if n not in ENGINES]
    if unknown:
        raise ValueError(f"ALTA_ENGINES names unknown engines {unknown}; known: {sorted(ENGINES)}")
    return EngineRegistry([engine_class(n).from_settings(settings) for n in names])
