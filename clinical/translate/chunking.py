"""Splitting a de-identified document into chunks that fit a translation model's token budget.

A chunk is what one model call translates. Chunks follow the document's structure: paragraphs
(separated by blank lines) are packed together while they fit, a page break (``\\f``) always ends
a chunk, and only a paragraph too long on its own is cut, at sentence ends, then at spaces. No cut
ever falls inside a word, so no placeholder (``__PHI_NOMBRE_1__`` has no space and no sentence
punctuation) is ever split between two model calls.

The whitespace around a chunk's text (blank lines, page breaks, the spaces between two halves of
a long paragraph) is kept out of the model's input and put back verbatim around its translation:
paragraph breaks and pages survive whatever the model does with leading and trailing blanks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

__all__ = ["PAGE_BREAK", "Chunk", "ChunkingError", "chunk_text", "estimate_tokens"]

PAGE_BREAK = "\f"
"""Separates pages in a document's text (PDF input); a chunk never spans two pages."""

CountTokens = Callable[[str], int]

# A paragraph break: whitespace holding a blank line or a page break.
_PARAGRAPH_BREAK = re.compile(r"\s*\n[^\S\n]*\n\s*|\s*\f\s*")
# Where a sentence may end: after . ! ? ; or : followed by whitespace, or at a line break.
_SENTENCE_BREAK = re.compile(r"(?<=[.!?;:])\s+|\s*\n\s*")
_WHITESPACE = re.compile(r"\s+")


class ChunkingError(ValueError):
    """A piece of text that cannot be cut (one word) is longer than the token budget."""


@dataclass(frozen=True)
class Chunk:
    """``prefix + text + suffix`` is a slice of the document; only ``text`` goes to the model.

    ``start`` is the offset of ``text`` in the document. ``text`` is empty only for a document
    that is all whitespace.
    """

    prefix: str
    text: str
    suffix: str
    start: int

    def __str__(self) -> str:
        return self.prefix + self.text + self.suffix


def estimate_tokens(text: str) -> int:
    """A conservative token count for engines that expose no tokenizer: one token per 3 UTF-8 bytes.

    Qwen2.5's tokenizer spends about one token per 3.5-4 bytes of Spanish clinical text, so this
    overestimates, and a chunk sized with it fits the real budget.
    """
    return -(-len(text.encode("utf-8")) // 3)


def _pieces(text: str, start: int, end: int, pattern: re.Pattern[str]) -> list[tuple[int, int]]:
    """The non-separator spans of ``text[start:end]`` cut at ``pattern``, as (start, end) offsets."""
    spans, position = [], start
    for match in pattern.finditer(text, start, end):
        if match.start() > position:
            spans.append((position, match.start()))
        position = max(position, match.end())
    if position < end:
        spans.append((position, end))
    return spans


class _Packer:
    """Greedy packing of spans of one document into chunks of at most ``budget`` tokens."""

    def __init__(self, text: str, count_tokens: CountTokens, budget: int) -> None:
        self.text = text
        self.count = count_tokens
        self.budget = budget
        self.spans: list[tuple[int, int]] = []  # the chunk bodies, as offsets into text

    def fits(self, start: int, end: int) -> bool:
        return self.count(self.text[start:end]) <= self.budget

    def pack(self, pieces: list[tuple[int, int]], hard_break_before: Callable[[int], bool]) -> None:
        """Add ``pieces`` (in order), extending the open chunk while the result fits the budget."""
        current: tuple[int, int] | None = None
        for start, end in pieces:
            if current is not None and not hard_break_before(start) and self.fits(current[0], end):
                current = (current[0], end)
                continue
            if current is not None:
                self.spans.append(current)
            if self.fits(start, end):
                current = (start, end)
            else:
                current = None
                self._split(start, end)
        if current is not None:
            self.spans.append(current)

    def _split(self, start: int, end: int) -> None:
        """A paragraph too long for one chunk: cut at sentence ends, then at spaces."""
        sentences = _pieces(self.text, start, end, _SENTENCE_BREAK)
        if len(sentences) > 1:
            self.pack(sentences, lambda _s: False)
            return
        words = _pieces(self.text, start, end, _WHITESPACE)
        if len(words) > 1:
            self.pack(words, lambda _s: False)
            return
        raise ChunkingError(f"a single word of {self.count(self.text[start:end])} tokens (at character {start}) "
                            f"is longer than the chunk budget of {self.budget} tokens; raise the budget")


def chunk_text(text: str, count_tokens: CountTokens, budget: int) -> list[Chunk]:
    """``text`` cut into chunks whose ``text`` has at most ``budget`` tokens by ``count_tokens``.

    ``"".join(str(c) for c in chunks) == text`` always holds. Raises :class:`ChunkingError` only
    when one word alone is over the budget.
    """
    if budget < 1:
        raise ValueError("the chunk budget must be at least 1 token")
    body_start = len(text) - len(text.lstrip())
    body_end = len(text.rstrip())
    if body_start >= body_end:
        return [Chunk(text, "", "", len(text))] if text else []

    paragraphs = _pieces(text, body_start, body_end, _PARAGRAPH_BREAK)
    # Paragraphs that start a new page: a chunk must end before them.
    new_page = {start for (_s, end), (start, _e) in zip(paragraphs, paragraphs[1:], strict=False)
                if PAGE_BREAK in text[end:start]}

    packer = _Packer(text, count_tokens, budget)
    packer.pack(paragraphs, new_page.__contains__)
    return list(_with_whitespace(text, packer.spans, body_start))


def _with_whitespace(text: str, spans: list[tuple[int, int]], body_start: int) -> Iterator[Chunk]:
    """Chunks for ``spans``: the first gets the document's leading whitespace as its prefix, every
    chunk the whitespace after it as its suffix."""
    for i, (start, end) in enumerate(spans):
        prefix = text[:body_start] if i == 0 else ""
        next_start = spans[i + 1][0] if i + 1 < len(spans) else len(text)
        yield Chunk(prefix, text[start:end], text[end:next_start], start)
