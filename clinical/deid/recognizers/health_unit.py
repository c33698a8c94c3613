"""Latin-American health units by their fixed names: "UMF No. 20", "HGZ 1", "CESFAM Pedro de Valdivia".

A Mexican social-security unit is written as its kind and its number (Unidad de Medicina
Familiar, Hospital General de Zona or Regional, with "No.", "Nº" or "#"); a Chilean primary-care
centre as "CESFAM", "CECOSF", "Consultorio" or "Posta" and its name. Together with a town they
locate the patient as precisely as an address, and MEDDOCAN, with its Spanish case reports, taught
the statistical model neither. Family-medicine units and primary-care centres are
``CENTRO_SALUD``, hospitals ``HOSPITAL``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from clinical.deid.recognizers.pattern_recognizer import PatternRecognizer
from clinical.deid.span import PhiSpan

__all__ = ["HealthUnitRecognizer"]

_NUMBER = r"(?:[ \t]*(?:No\.?|N[º°o]\.?|n[úu]m\.?|#))?[ \t]*\d{1,4}(?:[ \t]?[A-Z](?![\w]))?"
_CENTRE_KINDS = r"UMF|U\.M\.F\.|CMF|UMAA|Unidad[ \t]+de[ \t]+Medicina[ \t]+Familiar"
_HOSPITAL_KINDS = r"HGZ|H\.G\.Z\.|HGR|HGP|UMAE|Hospital[ \t]+General[ \t]+de[ \t]+Zona|Hospital[ \t]+General[ \t]+Regional"
_NAME_WORD = r"[A-ZÁÉÍÓÚÑ][^\W\d_]+"
_CHILEAN = rf"(?:CESFAM|CECOSF|Cesfam|Consultorio|Posta(?:[ \t]+de[ \t]+Salud[ \t]+Rural)?)[ \t]+" \
           rf"{_NAME_WORD}(?:[ \t]+(?:(?:de|del|la|las|los|el)[ \t]+)*{_NAME_WORD}){{0,3}}"


class HealthUnitRecognizer(PatternRecognizer):
    """Numbered Mexican units and named Chilean centres; source ``"health-unit"``."""

    name = "health-unit"
    phi_type = "CENTRO_SALUD"
    pattern = re.compile(
        rf"(?<![\w.])(?:(?P<centre>(?:{_CENTRE_KINDS}){_NUMBER})|(?P<hospital>(?:{_HOSPITAL_KINDS}){_NUMBER})"
        rf"|(?P<chile>{_CHILEAN}))(?![\w])"
    )

    def _spans(self, text: str) -> Iterable[PhiSpan]:
        for match in self.pattern.finditer(text):
            kind = match.lastgroup
            phi_type = "HOSPITAL" if kind == "hospital" else self.phi_type
            yield PhiSpan(match.start(), match.end(), phi_type, source=self.name)
