"""Mexican social-security numbers (IMSS NSS, 11 digits), by their Luhn check digit and context."""

from __future__ import annotations

import re

from clinical.deid.recognizers.pattern_recognizer import PatternRecognizer
from clinical.identifiers import check_identifier

__all__ = ["NssRecognizer"]


class NssRecognizer(PatternRecognizer):
    """An NSS after a word that names it ("NSS", "IMSS", "afiliación", "seguro social").

    Eleven digits with a Luhn digit are not rare among episode and record numbers (one in ten
    passes by chance), so unlike the CURP the number alone is not enough.
    """

    name = "nss"
    phi_type = "ID_ASEGURAMIENTO"
    checksum = True
    pattern = re.compile(r"(?<![\w-])\d{2}[ -]?\d{2}[ -]?\d{2}[ -]?\d{4}[ -]?\d(?![\w-])")
    context = re.compile(r"(?i)\b(?:nss|imss|afiliaci[oó]n|seguro social|seguridad social)\b")

    def validate(self, value: str) -> bool:
        return check_identifier("NSS", re.sub(r"[ -]", "", value)) is None
