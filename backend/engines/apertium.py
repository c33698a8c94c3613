"""The rule-based translation floor: Debian's Apertium (``apertium -f txt spa-eng``), always available.

It translates the prompt contract's de-identified text with placeholders and terms kept out of
Apertium's reach (:mod:`clinical.translate.protect`): a placeholder comes back exactly, a glossary
term as its English form, a CIE-10 code's Spanish description as its ICD-10 English one. The words
Apertium marks unknown (``*word``) get English from the terminology or a cognate rule
(:mod:`clinical.translate.unknown_words`), headings keep their capitals, and numbers follow English
conventions (:mod:`clinical.translate.polish`). It is labelled rule-based in every provenance,
ranks below any model engine (configured last in ``ALTA_ENGINES``), and needs no model, GPU or
network: the packages ``apertium`` and ``apertium-eng-spa`` (``scripts/system-deps.sh``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import shutil
import subprocess
import time
from collections.abc import AsyncIterator
from functools import cache
from pathlib import Path

from backend.core.config import Settings
from backend.engines.base import (
    Completion,
    Engine,
    EngineError,
    EngineHealth,
    GenerationParams,
    Messages,
)
from clinical.contract import TRANSLATION_USER_PREFIX
from clinical.glossary import Glossary
from clinical.translate.polish import polish
from clinical.translate.protect import TOKEN, protect, restore
from clinical.translate.unknown_words import resolve_unknown

logger = logging.getLogger(__name__)

TASK = "translation"
MODEL = "apertium-spa-eng (rule-based)"
INSTALL = "install the Debian packages apertium and apertium-eng-spa (scripts/system-deps.sh run)"
# Apertium marks words it could not generate (#) or transfer (@); unknown words (*) are resolved first.
_MARKS = re.compile(r"(?<![^\W_])[#@](?=[^\W\d_])")
_DOUBLE_SPACE = re.compile(r"(?<=\S) {2,}(?=\S)")
_AFTER_UNKNOWN_OPENER = re.compile(
    r"(?m)((?:(?:^|[.!?:]\s+)\*[^\W\d_][\w-]*|\*?(?i:xq[bcdfghjklm]+qx)) )([A-Z][a-z]+)\b")


def _lower_after_opener(match: re.Match[str]) -> str:
    return match.group(1) + match.group(2).lower()


def _keep_capital_lines(source: str, translated: str) -> str:
    """A line in capitals in the source (a heading: EVOLUCIÓN) stays in capitals; Apertium keeps the
    lines, so they pair up one to one."""
    source_lines, lines = source.split("\n"), translated.split("\n")
    if len(source_lines) != len(lines):
        return translated
    return "\n".join(line.upper() if _is_heading(src) else line for src, line in zip(source_lines, lines, strict=True))


def _is_heading(line: str) -> bool:
    letters = [c for c in TOKEN.sub("", line) if c.isalpha()]
    return len(letters) >= 4 and all(c.isupper() for c in letters)


class ApertiumTimeout(EngineError):
    fallback_reason = "timeout"


@cache
def rules_version() -> str:
    """The first 12 hex digits of a sha256 over what, besides Apertium and the glossary (which the
    cache key holds already), decides this engine's output: its rules and the CIE-10 table."""
    import clinical.translate.polish as polish_module
    import clinical.translate.protect as protect_module
    import clinical.translate.unknown_words as unknown_module
    from clinical.terminology import CIE10_PATH

    digest = hashlib.sha256()
    for path in (Path(__file__), Path(protect_module.__file__), Path(unknown_module.__file__),
                 Path(polish_module.__file__), CIE10_PATH):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def source_text(messages: Messages) -> str:
    """The text to translate: the prompt contract's text after its prefix (the glossary hints before
    it are recomputed here, and enforced), or a plain user message as it is (``/v1`` clients)."""
    users = [m["content"] for m in messages if m.get("role") == "user"]
    if not users:
        return ""
    content = users[-1]
    head, marker, text = content.partition(TRANSLATION_USER_PREFIX)
    return text if marker else content


def installed_modes(binary: str = "apertium") -> set[str]:
    """The translation directions ``apertium -l`` lists, or nothing when Apertium is not installed."""
    if shutil.which(binary) is None:
        return set()
    try:
        listed = subprocess.run([binary, "-l"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return set()
    return {line.strip() for line in listed.stdout.splitlines() if line.strip()}


class ApertiumEngine(Engine):
    name = "apertium"
    model = MODEL
    tasks = (TASK,)

    def __init__(self, *, binary: str = "apertium", mode: str = "spa-eng", timeout_s: float = 60.0,
                 max_concurrency: int = 4, glossary: Glossary | None = None, health_ttl_s: float = 30.0) -> None:
        self.binary = binary
        self.mode = mode
        self.timeout_s = timeout_s
        self.glossary = glossary
        self.health_ttl_s = health_ttl_s
        # Keys the chunk cache: changed rules or terminology must not reuse old translations.
        self.model_version = f"{mode}; rules {rules_version()}"
        self._slots = asyncio.Semaphore(max_concurrency)
        self._health: tuple[float, EngineHealth] | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> ApertiumEngine:
        return cls(mode=settings.apertium_mode, timeout_s=settings.apertium_timeout_s,
                   max_concurrency=settings.apertium_max_concurrency)

    async def health(self) -> EngineHealth:
        now = time.monotonic()
        if self._health is not None and now - self._health[0] < self.health_ttl_s:
            return self._health[1]
        modes = await asyncio.to_thread(installed_modes, self.binary)
        if not modes:
            health = EngineHealth(False, f"apertium is not installed; {INSTALL}")
        elif self.mode not in modes:
            health = EngineHealth(False, f"apertium has no {self.mode} mode; {INSTALL}")
        else:
            health = EngineHealth(True, f"rule-based {self.mode}, glossary terms and placeholders protected")
        self._health = (now, health)
        return health

    async def translate(self, text: str) -> str:
        """Spanish de-identified ``text`` -> English, placeholders and glossary terms protected."""
        if not text.strip():
            return text
        protected = protect(text, self.glossary)
        async with self._slots:
            raw = await self._run(protected.text)
        # Apertium capitalises the word after an unknown one that opens a sentence, and after its
        # neighbours ("xqbqx Presents", "xqbqx xqcqx And"); the tokens are ours, so is that case.
        raw = _AFTER_UNKNOWN_OPENER.sub(_lower_after_opener, raw)
        # Unknown words come back marked (*word): their English from the terminology, or cognates.
        translated = _MARKS.sub("", resolve_unknown(raw, keep=TOKEN))
        translated = _keep_capital_lines(protected.text, translated)
        if "  " not in text:  # Apertium leaves a double space where it drops a word; the source had none
            translated = _DOUBLE_SPACE.sub(" ", translated)
        # Decimal points, "78%", "an" before a restored term: English conventions Apertium leaves Spanish.
        return polish(restore(translated, protected))

    async def _run(self, text: str) -> str:
        try:
            process = await asyncio.create_subprocess_exec(
                self.binary, "-f", "txt", self.mode, stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        except OSError as exc:
            raise EngineError(f"apertium cannot be started ({type(exc).__name__}); {INSTALL}") from None
        try:
            out, _err = await asyncio.wait_for(process.communicate(text.encode("utf-8")), self.timeout_s)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise ApertiumTimeout(f"apertium took longer than {self.timeout_s:g} s "
                                  "(ALTA_APERTIUM_TIMEOUT_S)") from None
        if process.returncode != 0:
            # stderr may quote the input: it is not logged or returned.
            raise EngineError(f"apertium {self.mode} exited with status {process.returncode}")
        translated = out.decode("utf-8", errors="replace")
        # Apertium ends its output with the input's final newline, or adds none; keep the input's.
        return translated if text.endswith("\n") else translated.rstrip("\n")

    def chat_tasks(self) -> tuple[str, ...]:
        return self.tasks  # a model engine answers chat messages for every task it serves

    async def complete(self, messages: Messages, task: str, params: GenerationParams | None = None) -> Completion:
        if task != TASK:
            raise self._unsupported(task)
        text = await self.translate(source_text(messages))
        return Completion(text, self.name, self.model, self.model_version, "stop")

    async def stream_complete(self, messages: Messages, task: str,
                              params: GenerationParams | None = None) -> AsyncIterator[str]:
        if task != TASK:
            raise self._unsupported(task)
        # Apertium translates a text at once; the stream is that text in one chunk.
        yield await self.translate(source_text(messages))
