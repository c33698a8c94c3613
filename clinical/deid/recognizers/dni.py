"""Spanish DNI numbers (``12345678Z``, ``12.345.678-Z``), confirmed by their check letter."""

from __future__ import annotations

import re

from clinical.deid.recognizers.pattern_recognizer import PatternRecognizer
from clinical.identifiers import check_identifier

__all__ = ["DniRecognizer"]


class DniRecognizer(PatternRecognizer):
    """Eight digits (dots allowed) and the letter of their remainder modulo 23."""

    name = "dni"
    phi_type = "ID_SUJETO_ASISTENCIA"
    checksum = True
    pattern = re.compile(r"(?<![\w.-])(?:\d{8}|\d{2}\.\d{3}\.\d{3})[ -]?[A-Za-z](?!\w)")

    def validate(self, value: str) -> bool:
        return check_identifier("DNI", re.sub(r"[ .-]", "", value)) is None
