"""Engines that write drafts: one small interface, picked by configuration."""

from backend.engines.base import Draft, Engine, EngineError, EngineHealth, EngineRegistry

__all__ = ["Draft", "Engine", "EngineError", "EngineHealth", "EngineRegistry"]
