"""English conventions a rule-based translator leaves Spanish: decimal commas, spaced percent signs,
"a" before a vowel where it put a term it did not see.

Applied to the rule-based engine's output only (a model writes English numbers itself). Every rule
is local and safe for PHI: placeholders hold no digits, and the rules never move text across one.
"""

from __future__ import annotations

import re

__all__ = ["polish"]

# "27,3" / "2,5 mg": a comma followed by one or two digits, not part of a longer number, is a
# decimal comma. Three digits after the comma ("1,037") may be a thousands separator: left alone.
_DECIMAL_COMMA = re.compile(r"(?<![\d.,])(\d+),(\d{1,2})(?!\d)(?![,.]\d)")
_PERCENT = re.compile(r"(?<=\d)[ \u00a0\u202f]%")
# "a intensive care unit": the article was written before the term was put back.
_ARTICLE = re.compile(r"\b([Aa]) (?=(?:[aiAI]|[eE](?!u)|o(?!ne)|O(?!ne)|u(?:n[^i]|nd|lc|lt|s[^ue])|hour|honest)\w*)")


def polish(text: str) -> str:
    """``text`` with decimal commas as points, ``78 %`` as ``78%``, and ``a`` as ``an`` before a vowel."""
    text = _DECIMAL_COMMA.sub(r"\1.\2", text)
    text = _PERCENT.sub("%", text)
    return _ARTICLE.sub(lambda m: m.group(1) + "n ", text)
