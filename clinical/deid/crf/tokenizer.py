"""Splitting text into the tokens the statistical recogniser labels, with character offsets.

Tokens are runs of letters, runs of digits, or single other characters (``º``, ``/``, ``@``...).
Splitting letters from digits and punctuation from both is deliberately fine-grained: PHI spans in
clinical text end in the middle of what a word tokenizer keeps together (``28036Madrid``,
``2ºB``, ``H.``), and a span can only be found if its edges are token edges.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Token", "tokenize"]

_TOKEN = re.compile(r"[^\W\d_]+|\d+|[^\w\s]|_")


@dataclass(frozen=True, slots=True)
class Token:
    """``text[start:end]``; ``line`` is the 0-based line number the token is on."""

    text: str
    start: int
    end: int
    line: int


def _pieces(word: str) -> list[tuple[int, int]]:
    """Offsets of the parts of a letter run, split at lowercase->uppercase transitions."""
    cuts = [0]
    for i in range(1, len(word)):
        if word[i].isupper() and word[i - 1].islower():
            cuts.append(i)
    cuts.append(len(word))
    return list(zip(cuts, cuts[1:], strict=False))


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text`` in order; whitespace is never a token."""
    tokens = []
    line = 0
    last = 0
    for match in _TOKEN.finditer(text):
        start = match.start()
        line += text.count("\n", last, start)
        last = start
        word = match.group()
        if len(word) > 2 and word[0].isalpha():
            for a, b in _pieces(word):
                tokens.append(Token(word[a:b], start + a, start + b, line))
        else:
            tokens.append(Token(word, start, match.end(), line))
    return tokens
