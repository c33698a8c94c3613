"""The maker named after a brand: "(Combigan®, Allergan)", "(Rigiflex®; Microvasive, Boston Scientific)".

MEDDOCAN's guidelines annotate companies as ``INSTITUCION``, and case reports name the maker of a
drug or device right after its registered brand. The brand itself is not PHI (see
:mod:`clinical.deid.organisations`); the capitalised words after "®," up to the next comma,
semicolon or parenthesis are the maker.
"""

from __future__ import annotations

import re

from clinical.deid.recognizers.pattern_recognizer import PatternRecognizer

__all__ = ["ManufacturerRecognizer"]

_WORD = r"[A-ZÁÉÍÓÚÑÜ][\w'’.-]*"


class ManufacturerRecognizer(PatternRecognizer):
    """Up to four capitalised words after a brand mark and a comma or semicolon; source ``"manufacturer"``."""

    name = "manufacturer"
    phi_type = "INSTITUCION"
    pattern = re.compile(
        rf"[®™][ \t]*[,;][ \t]*(?P<value>{_WORD}(?:[ \t]+(?:&[ \t]+|and[ \t]+|y[ \t]+)?{_WORD}){{0,3}})(?=[ \t]*[,;)])"
    )

    def validate(self, value: str) -> bool:
        return not any(c.isdigit() for c in value)
