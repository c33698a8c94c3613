"""E-mail addresses."""

from __future__ import annotations

import re

from clinical.deid.recognizers.pattern_recognizer import PatternRecognizer

__all__ = ["EmailRecognizer"]


class EmailRecognizer(PatternRecognizer):
    """``local@domain.tld``; a full stop ending the sentence is not part of the address."""

    name = "email"
    phi_type = "CORREO_ELECTRONICO"
    pattern = re.compile(
        r"(?<![\w.+-])[\w.+-]*\w@\w(?:[\w-]*\w)?(?:\.\w(?:[\w-]*\w)?)*\.[A-Za-z]{2,}(?![\w@])"
    )
