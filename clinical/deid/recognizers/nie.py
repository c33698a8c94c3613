"""Spanish NIE numbers for foreign residents (``X1234567L``), confirmed by their check letter."""

from __future__ import annotations

import re

from clinical.deid.recognizers.pattern_recognizer import PatternRecognizer
from clinical.identifiers import check_identifier

__all__ = ["NieRecognizer"]


class NieRecognizer(PatternRecognizer):
    """X, Y or Z, seven digits and the check letter (hyphens between the parts allowed)."""

    name = "nie"
    phi_type = "ID_SUJETO_ASISTENCIA"
    checksum = True
    pattern = re.compile(r"(?<![\w-])[XYZxyz]-?\d{7}-?[A-Za-z](?!\w)")

    def validate(self, value: str) -> bool:
        return check_identifier("NIE", value.replace("-", "")) is None
