"""Telephone and fax numbers, written after a word that says so or with an international prefix."""

from __future__ import annotations

import re

from clinical.deid.recognizers.pattern_recognizer import PatternRecognizer
from clinical.deid.span import PhiSpan

__all__ = ["PhoneRecognizer"]

_NUMBER = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){1,4}(?![\w-])"
)
_PHONE_WORD = re.compile(
    r"(?i)\b(?:tel[eé]fonos?|tel[eé]f|tfnos?|tlfnos?|telfs?|tlfs?|tel|m[oó]vil|celular|cel|fono|whatsapp|llamar al)\b\.?[:.\s]*"
    r"(?:\S+[:.\s]+){0,5}$"
)
_FAX_WORD = re.compile(r"(?i)\bfax\b\.?[:.\s]*(?:\S+[:.\s]+){0,3}$")


class PhoneRecognizer(PatternRecognizer):
    """Numbers of 8 to 13 digits after "Tel.", "Teléfono", "Móvil", "Fax"... or starting with +.

    Bare digit groups are left to the statistical recogniser: in a clinical text they are as
    often record, episode or insurance numbers, and the type matters for strict scoring.
    """

    name = "phone"
    phi_type = "NUMERO_TELEFONO"
    pattern = _NUMBER

    def analyze(self, text: str) -> list[PhiSpan]:
        spans = []
        for match in _NUMBER.finditer(text):
            digits = sum(c.isdigit() for c in match.group())
            if not 8 <= digits <= 13:
                continue
            before = text[max(0, match.start() - 40):match.start()]
            if _FAX_WORD.search(before):
                type_ = "NUMERO_FAX"
            elif _PHONE_WORD.search(before) or match.group().startswith("+"):
                type_ = "NUMERO_TELEFONO"
            else:
                continue
            spans.append(PhiSpan(match.start(), match.end(), type_, source=self.name))
        return spans
