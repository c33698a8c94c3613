"""Mexican CURP (18 characters), confirmed by its format and check digit."""

from __future__ import annotations

import re

from clinical.deid.recognizers.pattern_recognizer import PatternRecognizer
from clinical.identifiers import check_identifier

__all__ = ["CurpRecognizer"]


class CurpRecognizer(PatternRecognizer):
    """Four letters, a YYMMDD birth date, sex, state, three consonants, two check characters."""

    name = "curp"
    phi_type = "ID_SUJETO_ASISTENCIA"
    checksum = True
    # Loose shape here, the exact grammar (state codes, vowel rules) in check_identifier.
    pattern = re.compile(r"(?<![\w])[A-Za-z]{4}\d{6}[HMXhmx][A-Za-z]{5}[0-9A-Za-z]\d(?!\w)")

    def validate(self, value: str) -> bool:
        return check_identifier("CURP", value) is None
