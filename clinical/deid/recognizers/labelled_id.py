"""Identifiers without a check digit, recognised by the label written before them ("NHC: 368503")."""

from __future__ import annotations

import re

from clinical.deid.recognizers.pattern_recognizer import PatternRecognizer

__all__ = ["LabelledIdRecognizer"]

# The value: up to four capitals, digits with single spaces, dots, hyphens or slashes between
# digit groups, and an optional letter-and-digit tail ("26 63514095", "28-28-36541", "AB123456",
# "12.345.678-K", "GODE561231HDFRRN01"). A space never precedes the tail, so a word after the
# number ("NHC: 368503 HTA") is not swallowed.
_VALUE = r"(?P<value>[A-Z]{0,4}\d(?:[ ./-]?\d)*(?:-?[A-Za-z0-9]{1,8})?)(?![\w/-])"


class LabelledIdRecognizer(PatternRecognizer):
    """A number right after one of ``labels`` and an optional ``:``, ``Nº``, ``#``.

    Subclasses set ``labels`` (a regex alternation, matched case-insensitively) and ``phi_type``.
    """

    labels: str = ""

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if cls.labels:
            cls.pattern = re.compile(
                rf"(?i:\b(?:{cls.labels}))\.?(?:\s*(?:n[º°o]\.?|n[úu]m(?:ero)?\.?|#))?\s*[:.]?[ \t]*{_VALUE}"
            )
