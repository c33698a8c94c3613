"""The maker named after a brand: "(Combigan®, Allergan)", "(Rigiflex®; Microvasive, Boston Scientific)".

MEDDOCAN's guidelines annotate companies as ``INSTITUCION``, and case reports name the maker of a
drug or device right after its registered brand. The brand itself is not PHI (see
:mod:`clinical.deid.places.organisations`); the capitalised words after "®," up to the next comma,
semicolon or parenthesis are the maker. Two more ways case reports cite a maker, both ending in
the maker's town and country: "KeraOs® (Keramat, Coruña, España)" (the maker opens the
parenthesis after the brand) and "(Sonos 100 CF, Hewlett Packard, Massachusetts, USA)" (product,
maker, place, country: the second item, unless it is itself a place).
"""

from __future__ import annotations

import re

from clinical.deid.crf.tokenizer import tokenize
from clinical.deid.places.geo_gazetteer import match_places
from clinical.deid.recognizers.pattern_recognizer import PatternRecognizer
from clinical.deid.span import PhiSpan

__all__ = ["ManufacturerRecognizer"]

_WORD = r"[A-ZÁÉÍÓÚÑÜ][\w'’.-]*"


class ManufacturerRecognizer(PatternRecognizer):
    """Up to four capitalised words after a brand mark and a comma or semicolon; source ``"manufacturer"``."""

    name = "manufacturer"
    phi_type = "INSTITUCION"
    pattern = re.compile(
        rf"[®™][ \t]*[,;][ \t]*(?P<value>{_WORD}(?:[ \t]+(?:&[ \t]+|and[ \t]+|y[ \t]+)?{_WORD}){{0,3}})(?=[ \t]*[,;)])"
    )

    after_brand = re.compile(rf"[®™][ \t]*\([ \t]*(?P<value>{_WORD}(?:[ \t]+(?:&[ \t]+|and[ \t]+)?{_WORD}){{0,3}})(?=[ \t]*,)")
    cited = re.compile(r"\(([^()\n]{2,160})\)")
    maker = re.compile(rf"^{_WORD}(?:[ \t]+(?:&[ \t]+|and[ \t]+)?{_WORD}){{0,3}}$")

    def validate(self, value: str) -> bool:
        return not any(c.isdigit() for c in value) and not self._is_place(value)

    def analyze(self, text: str) -> list[PhiSpan]:
        spans = super().analyze(text)
        for match in self.after_brand.finditer(text):
            if self.validate(match.group("value")) and self._ends_in_a_place(text[match.end("value"):match.end() + 80]):
                spans.append(PhiSpan(*match.span("value"), self.phi_type, source=self.name))
        for match in self.cited.finditer(text):
            if re.search(r"[®™]\s*$", text[:match.start()]):
                continue  # "Brand® (Maker, Town, Country)": the maker comes first, found above
            items = [(m.start(1), m.end(1)) for m in re.finditer(r"\s*(.+?)\s*(?:[,;]|\.\s|$)", match.group(1))]
            if len(items) < 3:
                continue
            start, end = (match.start(1) + items[1][0], match.start(1) + items[1][1])
            name = text[start:end]
            if (self.maker.match(name) and self.validate(name)
                    and self._is_place(text[match.start(1) + items[-1][0]:match.start(1) + items[-1][1]])):
                spans.append(PhiSpan(start, end, self.phi_type, source=self.name))
        return sorted(set(spans))

    @staticmethod
    def _is_place(words: str) -> bool:
        """Whether ``words`` are one town, region or country name of the place gazetteer."""
        tokens = [t.text for t in tokenize(words)]
        return any(a == 0 and b == len(tokens) for a, b, _ in match_places(tokens))

    def _ends_in_a_place(self, rest: str) -> bool:
        inside = rest.split(")", 1)[0]
        last = inside.rsplit(",", 1)[-1].strip()
        return "," in inside and self._is_place(last)
