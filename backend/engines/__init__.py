"""Engines that write drafts: one small interface, picked by configuration."""

from backend.engines.base import Draft, Engine, EngineBusy, EngineError, EngineHealth
from backend.engines.registry import EngineRegistry

__all__ = ["Draft", "Engine", "EngineBusy", "EngineError", "EngineHealth", "EngineRegistry"]
