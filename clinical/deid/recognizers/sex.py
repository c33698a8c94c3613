"""The patient's sex where the case states it: "Varón de 52 años", "paciente masculino", "sexo femenino".

MEDDOCAN annotates these as ``SEXO_SUJETO_ASISTENCIA`` (on its train split, 339 of 341 "varón/
mujer/hombre/niño de N años" and 22 of 26 "masculino/femenino"). The model finds most, but reads
"Mujer de 52 años" right after a header line as a name. Sex is not an identifier under HIPAA's
Safe Harbor, and Alta's translation leaves it readable (:mod:`clinical.deid.readable`).
"""

from __future__ import annotations

import re

from clinical.deid.recognizers.pattern_recognizer import PatternRecognizer

__all__ = ["SexRecognizer"]


class SexRecognizer(PatternRecognizer):
    """"masculino/femenino", and "varón/mujer/hombre/niño/niña" before "de N años|meses"; source ``"sex"``."""

    name = "sex"
    phi_type = "SEXO_SUJETO_ASISTENCIA"
    pattern = re.compile(
        r"(?<![\w-])(?P<value>(?i:masculino|femenin[oa])"
        r"|(?:[Vv]ar[óo]n|VAR[ÓO]N|[Mm]ujer|MUJER|[Hh]ombre|HOMBRE|[Nn]iñ[oa]|NIÑ[OA])(?= de \d{1,3} (?:años|meses)))(?![\w-])"
    )
