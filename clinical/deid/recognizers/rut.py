"""Chilean RUT/RUN numbers (``12.345.678-5``, ``12345678-5``), confirmed by their mod-11 check digit."""

from __future__ import annotations

import re

from clinical.deid.recognizers.pattern_recognizer import PatternRecognizer
from clinical.identifiers import check_identifier

__all__ = ["RutRecognizer"]


class RutRecognizer(PatternRecognizer):
    """A RUT with its hyphenated check digit; dotted or plain body.

    The hyphen is required: an undotted, unhyphenated 8-9 digit number is as likely a phone or a
    record number, and one in eleven of those would pass the check digit by chance.
    """

    name = "rut"
    phi_type = "ID_SUJETO_ASISTENCIA"
    checksum = True
    pattern = re.compile(r"(?<![\w.-])(?:\d{1,2}\.\d{3}\.\d{3}|\d{7,8})-[\dkK](?![\w-])")

    def validate(self, value: str) -> bool:
        return check_identifier("RUT", value) is None
