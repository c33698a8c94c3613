"""Full names with nothing in front: "Juan Pérez González acude a control", from the name gazetteer.

With no trigger, a capitalised word is as likely a sentence start, a heading, a drug or a place.
Only a run that reads as a whole Hispanic name is taken: a gazetteer given name first, then at
least one gazetteer surname ("Juan Pérez", "María José Soto Aravena"); non-gazetteer words may
follow ("Juan Pérez Huenchumilla") as long as none is a known non-name. In capitals ("JUAN PÉREZ
GONZÁLEZ") every word must be in the gazetteer and there must be three, since headings are
written in capitals too. A run inside the name of a hospital or a street ("Hospital Juan Ramón
Jiménez", "Calle Miguel Benítez 90"), after a saint's title ("San Juan") or followed by a house
number is left alone.

The type is the patient's, the commonest person in a clinical note; the document-level
consistency step (:mod:`clinical.deid.names.consistency`) gives the name the type a trigger or the
statistical model found for it elsewhere in the document.
"""

from __future__ import annotations

import re

from clinical.deid.names.gazetteer import NameGazetteer, load_gazetteer
from clinical.deid.names.scan import organisation_before, scan_name
from clinical.deid.names.words import ORGANISATION_WORDS
from clinical.deid.span import PhiSpan

__all__ = ["GazetteerNameRecognizer"]

# Candidate starts: a capitalised word not glued to a letter or a digit before it.
_START = re.compile(r"(?<![\w'’-])[A-ZÁÉÍÓÚÑÜ]")
_NUMBER_AFTER = re.compile(r"[ \t]*,?[ \t]*(?:n[º°o]\.?[ \t]*)?(?:\d|s/n\b)")


class GazetteerNameRecognizer:
    """Unannounced full names; type ``NOMBRE_SUJETO_ASISTENCIA``, source ``"name-gazetteer"``."""

    name = "name-gazetteer"
    phi_type = "NOMBRE_SUJETO_ASISTENCIA"

    def __init__(self, gazetteer: NameGazetteer | None = None):
        self.gazetteer = gazetteer or load_gazetteer()

    def analyze(self, text: str) -> list[PhiSpan]:
        """The full names of ``text`` that need no trigger, left to right, not overlapping."""
        spans: list[PhiSpan] = []
        position = 0
        while True:
            match = _START.search(text, position)
            if match is None:
                return spans
            position = match.start() + 1
            name = scan_name(text, match.start(), self.gazetteer, given_first=True)
            if name is None or not self._is_full_name(name.words, name.upper):
                continue
            if _NUMBER_AFTER.match(text, name.end) or organisation_before(text, name.start, ORGANISATION_WORDS):
                continue
            spans.append(PhiSpan(name.start, name.end, self.phi_type, source=self.name))
            position = name.end

    def _is_full_name(self, words: tuple[str, ...], upper: bool) -> bool:
        known = [self.gazetteer.is_name(word) for word in words]
        if upper:
            return len(words) >= 3 and all(known) and any(self.gazetteer.is_surname(w) for w in words[1:])
        if len(words) < 2 or not known[1]:
            return False
        # Given names, then a surname: "María José" alone is not enough, "María José Soto" is.
        return any(self.gazetteer.is_surname(word) and not self.gazetteer.is_given(word) for word in words[1:]) or (
            len(words) >= 3 and all(known) and self.gazetteer.is_surname(words[-1]))
