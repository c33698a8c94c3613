"""The translation pipeline: de-identify once, translate chunk by chunk, check placeholders, re-identify.

The model only ever sees de-identified text. The whole document is de-identified once, so a person
keeps one placeholder across every chunk; each chunk's answer must give back each of the chunk's
placeholders exactly as many times as it was sent, nothing damaged, nothing invented. An unusable
answer is retried once (the caller may sample differently on the retry); a second one fails the
document with an error that names the placeholders (``__PHI_NOMBRE_1__``: a type and a number, never
the PHI) rather than return a text that silently lost or leaked a name.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from clinical.contract import translation_messages
from clinical.deid import DeidResult, PlaceholderReport, check_placeholders, reidentify
from clinical.deid import deidentify as default_deidentify
from clinical.deid.phi_types import ESCAPE_TYPE, PLACEHOLDER_TYPES
from clinical.deid.placeholders import PLACEHOLDER
from clinical.glossary import hints as glossary_hints
from clinical.glossary import term_accuracy
from clinical.terminology.coded import find_coded_descriptions
from clinical.translate.chunking import PAGE_BREAK, Chunk, CountTokens, chunk_text, estimate_tokens
from clinical.translate.english_phi import render_in_english

__all__ = [
    "DEFAULT_BUDGET",
    "Answer",
    "ChunkCache",
    "ChunkTranslationError",
    "Complete",
    "TranslationError",
    "TranslationResult",
    "describe_report",
    "translate_deidentified",
    "translate_document",
]

logger = logging.getLogger(__name__)

DEFAULT_BUDGET = 384
"""Tokens of source text per model call: a few paragraphs, well inside a small model's context."""

Messages = list[dict[str, str]]
Progress = Callable[[int, int], Awaitable[None]]


@dataclass(frozen=True)
class Answer:
    """A model's answer; ``truncated`` when it stopped at its token limit instead of finishing."""

    text: str
    truncated: bool = False


class Complete(Protocol):
    """Translates: the chat messages of the prompt contract in, the model's answer out.

    ``attempt`` is 0 for the first try of a chunk and 1 for its retry, so a deterministic engine
    can sample on the retry instead of repeating the same answer.
    """

    def __call__(self, messages: Messages, *, attempt: int) -> Awaitable[str | Answer]: ...


class ChunkCache(Protocol):
    """Translations of de-identified chunks by one model; stores and returns de-identified text only."""

    async def get(self, source: str) -> str | None: ...

    async def put(self, source: str, translation: str) -> None: ...


class TranslationError(Exception):
    """A document could not be translated; the message holds no PHI and says what to try."""

    code = "translation_failed"


class ChunkTranslationError(TranslationError):
    """A chunk's answer was unusable on every attempt (placeholders lost, empty or cut short)."""

    def __init__(self, index: int, total: int, attempts: int, kind: str, reason: str) -> None:
        self.index, self.total, self.attempts, self.kind, self.reason = index, total, attempts, kind, reason
        self.code = {"placeholders": "placeholders_not_kept", "empty": "empty_translation",
                     "truncated": "translation_truncated"}[kind]
        advice = {
            "placeholders": "the model did not keep the PHI placeholders; use a model trained for Alta's "
                            "translation contract, or a smaller chunk (ALTA_TRANSLATION_CHUNK_TOKENS)",
            "empty": "the model answered nothing; check the model serves the translation task",
            "truncated": "raise ALTA_TRANSLATION_MAX_NEW_TOKENS or lower ALTA_TRANSLATION_CHUNK_TOKENS",
        }[kind]
        super().__init__(f"chunk {index + 1} of {total}: {reason} (after {attempts} attempts); nothing was "
                         f"returned, so no PHI was lost or leaked; {advice}")


@dataclass(frozen=True)
class TranslationResult:
    """A translated document. ``text`` is re-identified (it holds the PHI again); ``deidentified``
    is the same translation with placeholders."""

    text: str
    deidentified: str
    chunks: int
    cached_chunks: int
    retries: int
    placeholders: int
    term_accuracy: float

    def __repr__(self) -> str:
        return (f"TranslationResult({len(self.text)} chars, {self.chunks} chunks, {self.cached_chunks} cached, "
                f"{self.retries} retries, {self.placeholders} placeholders)")


def _safe_unknown(placeholder: str) -> bool:
    match = PLACEHOLDER.fullmatch(placeholder)
    return match is not None and (match.group(1) in PLACEHOLDER_TYPES.values() or match.group(1) == ESCAPE_TYPE)


def describe_report(report: PlaceholderReport) -> str:
    """What went wrong with the placeholders, fit for a log line or an error body.

    Missing and duplicated placeholders are the source's own (a type and a number). Whatever the
    model wrote itself is counted, not quoted, unless it is a well-formed placeholder of a known
    type: a damaged fragment is the model's text, and the model's text is not shown.
    """
    parts = []
    if report.missing:
        parts.append("missing " + ", ".join(f"{p} (x{n})" for p, n in report.missing.items()))
    if report.duplicated:
        parts.append("duplicated " + ", ".join(f"{p} (+{n})" for p, n in report.duplicated.items()))
    if report.unknown:
        named = [p for p in report.unknown if _safe_unknown(p)]
        other = len(report.unknown) - len(named)
        parts.append("invented " + ", ".join(named + ([f"{other} of an unknown type"] if other else [])))
    if report.altered:
        parts.append(f"{len(report.altered)} altered placeholder-like fragment(s)")
    return "; ".join(parts) or "placeholders ok"


def term_hints(text: str) -> list[tuple[str, str]]:
    """The prompt's hints for ``text``: its glossary terms, then each CIE-10 code's Spanish description
    written after the code, with the WHO ICD-10 English one."""
    coded = [(text[c.start:c.end], c.entry.en) for c in find_coded_descriptions(text)]
    return glossary_hints(text) + list(dict.fromkeys(coded))


def _clean(answer: str | Answer) -> Answer:
    if isinstance(answer, str):
        answer = Answer(answer)
    # Whitespace around a chunk is the pipeline's to put back, and a page break only the source may set.
    return Answer(answer.text.strip().replace(PAGE_BREAK, "\n"), answer.truncated)


async def _translate_chunk(chunk: Chunk, index: int, total: int, complete: Complete, retries: int) -> tuple[str, int]:
    """The checked translation of one chunk and how many retries it took."""
    messages = translation_messages(chunk.text, term_hints(chunk.text))
    kind = reason = ""
    for attempt in range(retries + 1):
        answer = _clean(await complete(messages, attempt=attempt))
        report = check_placeholders(answer.text, chunk.text)
        if not report.ok:
            kind, reason = "placeholders", "placeholders not kept: " + describe_report(report)
        elif not answer.text:
            kind, reason = "empty", "empty translation"
        elif answer.truncated:
            kind, reason = "truncated", "the translation was cut at the token limit"
        else:
            return answer.text, attempt
        logger.warning("translation chunk %d/%d attempt %d unusable: %s", index + 1, total, attempt + 1, reason)
    raise ChunkTranslationError(index, total, retries + 1, kind, reason)


async def translate_deidentified(
    deid: DeidResult, complete: Complete, *, count_tokens: CountTokens = estimate_tokens,
    budget: int = DEFAULT_BUDGET, cache: ChunkCache | None = None, retries: int = 1,
    on_progress: Progress | None = None,
) -> TranslationResult:
    """Translate an already de-identified document (see :func:`translate_document`).

    Chunks found in ``cache`` are not sent to the model; chunks translated are stored in it once
    they pass the placeholder check. ``on_progress(done, total)`` is awaited after every chunk.
    """
    chunks = chunk_text(deid.text, count_tokens, budget)
    work = [c for c in chunks if c.text]
    parts: list[str] = []
    cached = retried = done = 0
    for chunk in chunks:
        if not chunk.text:
            parts.append(str(chunk))
            continue
        translated = await cache.get(chunk.text) if cache is not None else None
        if translated is not None and check_placeholders(translated, chunk.text).ok:
            cached += 1
        else:
            translated, retries_used = await _translate_chunk(chunk, done, len(work), complete, retries)
            retried += retries_used
            if cache is not None:
                await cache.put(chunk.text, translated)
        parts.append(chunk.prefix + translated + chunk.suffix)
        done += 1
        if on_progress is not None:
            await on_progress(done, len(work))

    deidentified = "".join(parts)
    # Every chunk passed its own check; this guards the assembly (and a cache that returned junk).
    report = check_placeholders(deidentified, deid.mapping)
    if not report.ok:
        raise TranslationError("the assembled translation does not hold every placeholder exactly once: "
                               f"{describe_report(report)}; nothing was returned")
    logger.info("translated %d chunks (%d cached, %d retries), %d placeholders", len(work), cached, retried,
                len(deid.mapping))
    english = reidentify(deidentified, deid.mapping, render=render_in_english)  # dates and ages in English
    return TranslationResult(english, deidentified, len(work), cached, retried,
                             len(deid.mapping), term_accuracy(deid.text, deidentified))


async def translate_document(
    text: str, complete: Complete, *, deidentify: Callable[[str], DeidResult] = default_deidentify,
    count_tokens: CountTokens = estimate_tokens, budget: int = DEFAULT_BUDGET, cache: ChunkCache | None = None,
    retries: int = 1, on_progress: Progress | None = None,
) -> TranslationResult:
    """Spanish clinical ``text`` -> English, with no PHI ever reaching ``complete``.

    De-identifies the whole text once (in a worker thread: the recogniser is CPU work), cuts it into
    chunks of at most ``budget`` tokens by ``count_tokens`` (paragraphs, pages and headings kept),
    translates each with the prompt contract's messages and glossary hints, checks its placeholders
    (one retry), and re-identifies. Raises :class:`ChunkTranslationError` when a chunk fails twice.
    """
    deid = await asyncio.to_thread(deidentify, text)
    return await translate_deidentified(deid, complete, count_tokens=count_tokens, budget=budget, cache=cache,
                                        retries=retries, on_progress=on_progress)
