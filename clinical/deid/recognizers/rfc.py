"""Mexican RFC tax identifiers (``GODE561231GR8``), confirmed by their date and check digit.

The check digit follows the SAT's algorithm: each of the first twelve characters (a company's
eleven, padded on the left with a space) takes its value in ``0-9 A-N & O-Z space Ñ`` and is
weighted 13 down to 2; the digit is ``(11 - sum) mod 11`` with 10 written ``A``.
"""

from __future__ import annotations

import datetime as dt
import re

from clinical.deid.recognizers.pattern_recognizer import PatternRecognizer

__all__ = ["RfcRecognizer", "rfc_check_digit", "rfc_is_valid"]

_ALPHABET = "0123456789ABCDEFGHIJKLMN&OPQRSTUVWXYZ Ñ"
_RFC = re.compile(r"^([A-ZÑ&]{3,4})(\d{2})(\d{2})(\d{2})([A-Z\d]{2})([\dA])$")


def rfc_check_digit(first: str) -> str:
    """The check digit of an RFC's first 11 (company) or 12 (person) characters."""
    padded = first.upper().rjust(12)
    total = sum(_ALPHABET.index(char) * (13 - i) for i, char in enumerate(padded))
    return _ALPHABET[(11 - total) % 11]


def rfc_is_valid(value: str) -> bool:
    """Whether ``value`` (spaces and hyphens ignored) is a well-formed RFC with a matching digit."""
    compact = re.sub(r"[ -]", "", value).upper()
    match = _RFC.match(compact)
    if not match:
        return False
    year, month, day = (int(match.group(i)) for i in (2, 3, 4))
    try:
        # The century is unknown; 2000 is a leap year, so 29 February is accepted for "00".
        dt.date(2000 + year, month, day)
    except ValueError:
        return False
    return rfc_check_digit(compact[:-1]) == compact[-1]


class RfcRecognizer(PatternRecognizer):
    """A person's (13 characters) or a company's (12) RFC, with or without separators."""

    name = "rfc"
    phi_type = "ID_SUJETO_ASISTENCIA"
    checksum = True
    pattern = re.compile(r"(?<![\w&-])[A-ZÑ&]{3,4}[ -]?\d{6}[ -]?[A-Z\d]{2}[\dA](?![\w-])")

    def validate(self, value: str) -> bool:
        return rfc_is_valid(value)
