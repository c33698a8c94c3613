"""Web addresses (``https://...``, ``www....``)."""

from __future__ import annotations

import re

from clinical.deid.recognizers.pattern_recognizer import PatternRecognizer

__all__ = ["UrlRecognizer"]


class UrlRecognizer(PatternRecognizer):
    """A URL up to the next space; closing punctuation of the sentence is left out."""

    name = "url"
    phi_type = "URL_WEB"
    pattern = re.compile(r"(?i)(?<![\w@/])(?:https?://|www\.)[^\s<>\"]*[^\s<>\".,;:!?)\]]")
