"""Translating a de-identified document with the engines that do translation, through the one
fallback chain (:func:`backend.services.fallback.first_answer`)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from sqlalchemy.orm import Session, sessionmaker

from backend.core.config import Settings
from backend.engines.base import Engine, EngineBusy, EngineError, GenerationParams
from backend.engines.registry import EngineRegistry
from backend.services.errors import NoEngineAvailable, NoTranslationEngine, TranslationFailed
from backend.services.fallback import first_answer
from backend.services.translation.cache import DatabaseChunkCache
from backend.services.translation.store import Outcome
from clinical.deid import DeidResult
from clinical.translate import (
    Answer,
    ChunkingError,
    ChunkTranslationError,
    Complete,
    TranslationError,
    estimate_tokens,
    translate_deidentified,
)
from clinical.translate.chunking import CountTokens

logger = logging.getLogger(__name__)

TASK = "translation"
HOW_TO_CONFIGURE = (
    "install Apertium, the rule-based floor (scripts/system-deps.sh run: the Debian packages apertium and "
    "apertium-eng-spa) and keep \"apertium\" last in ALTA_ENGINES; for a translation model, export it with "
    "`python -m export bundle --checkpoint DIR --out models/NAME --catalog models/catalog.json --tasks "
    "translation`, set ALTA_ONNX_MODEL=NAME and ALTA_ENGINES='[\"onnx\", \"template\", \"apertium\"]', or serve "
    "it with vLLM (`python -m training vllm-command`) and set ALTA_VLLM_BASE_URLS and "
    "ALTA_VLLM_MODELS='{\"translation\": \"ADAPTER\"}' with \"vllm\" first in ALTA_ENGINES; "
    "GET /api/v1/models lists each engine's tasks")

Progress = Callable[[int, int], Awaitable[None]]


def translation_engines(registry: EngineRegistry) -> list[Engine]:
    """The engines that do translation, in the configured order; 503 (and how to add one, in the
    log and the API's detail) when none does."""
    engines = registry.for_task(TASK)
    if not engines:
        configured = ", ".join(f"{e.name} ({'/'.join(e.tasks)})" for e in registry)
        logger.error("no configured engine does translation (configured: %s); %s", configured, HOW_TO_CONFIGURE)
        raise NoTranslationEngine(f"no configured engine does translation (configured: {configured}); "
                                  + HOW_TO_CONFIGURE)
    return engines


def count_tokens_for(engine: Engine) -> CountTokens:
    """The engine's own tokenizer when it has one (the ONNX engine), else a conservative estimate."""
    return lambda text: engine.count_tokens(text) or estimate_tokens(text)


def engine_complete(engine: Engine, settings: Settings, busy_wait_s: float = 0.0) -> Complete:
    """``engine`` as the pipeline's ``complete``: greedy first, sampled (seeded) on the retry.

    A busy engine is waited for up to ``busy_wait_s`` (jobs are patient; a request is not: 0).
    An answer that stopped at ``translation_max_new_tokens`` is marked truncated, not accepted.
    """

    async def complete(messages: list[dict[str, str]], *, attempt: int) -> Answer:
        retry_sampling = attempt > 0 and settings.translation_retry_temperature > 0
        params = GenerationParams(max_new_tokens=settings.translation_max_new_tokens,
                                  temperature=settings.translation_retry_temperature if retry_sampling else None,
                                  seed=attempt if retry_sampling else None)
        deadline = time.perf_counter() + busy_wait_s
        while True:
            try:
                completion = await engine.complete(messages, TASK, params)
                break
            except EngineBusy:
                if time.perf_counter() >= deadline:
                    raise
                await asyncio.sleep(1.0)
        return Answer(completion.text, truncated=completion.finish_reason == "length")

    return complete


class UnusableTranslation(EngineError):
    """An engine's answers failed the placeholder check (or were empty, or cut short) on every attempt."""

    fallback_reason = "malformed"

    def __init__(self, error: TranslationError) -> None:
        super().__init__(str(error))
        self.error = error


async def translate_with_engines(
    deid: DeidResult, engines: list[Engine], settings: Settings, sessions: sessionmaker[Session], *,
    busy_wait_s: float = 0.0, on_progress: Progress | None = None,
) -> Outcome:
    """The translation of the first engine that gives a usable one; those passed over are named in
    ``fallbacks``. Raises TranslationFailed (502) when the engines that answered gave unusable
    translations, NoEngineAvailable (503) when every engine was down or busy."""
    failures: list[TranslationError] = []

    async def translate(engine: Engine):
        # The cache is keyed by the model version the engine reported at its health check, just made.
        cache = (DatabaseChunkCache(sessions, engine.model, engine.model_version)
                 if settings.translation_cache else None)
        try:
            return await translate_deidentified(
                deid, engine_complete(engine, settings, busy_wait_s), count_tokens=count_tokens_for(engine),
                budget=settings.translation_chunk_tokens, cache=cache, on_progress=on_progress)
        except ChunkingError as exc:
            raise TranslationFailed(f"the text cannot be cut into chunks: {exc} (ALTA_TRANSLATION_CHUNK_TOKENS)",
                                    "text_not_chunkable", 422) from None
        except TranslationError as exc:
            failures.append(exc)
            logger.warning("engine %s: unusable translation (%s)", engine.name,
                           exc.code if isinstance(exc, ChunkTranslationError) else "assembly")
            raise UnusableTranslation(exc) from None

    try:
        answer = await first_answer(engines, TASK, translate, wait_if_busy=busy_wait_s > 0)
    except NoEngineAvailable:
        if failures:
            last = failures[-1]
            raise TranslationFailed(f"no engine gave a usable translation: {last}", last.code) from None
        raise
    return Outcome(answer.value, answer.engine, answer.seconds * 1000, answer.fallbacks)
