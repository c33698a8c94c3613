"""The base of Alta's rule recognisers: a regular expression, optional context, optional check digit."""

from __future__ import annotations

import re
from collections.abc import Iterable

from clinical.deid.span import PhiSpan

__all__ = ["PatternRecognizer"]


class PatternRecognizer:
    """Finds PHI whose format is fixed: every match of ``pattern`` that passes :meth:`validate`.

    Subclasses set the class attributes and, for identifiers with a check digit, override
    :meth:`validate` (and set ``checksum = True``: a span confirmed by a check digit wins over any
    overlapping span, see :class:`clinical.deid.analyzer.Analyzer`). When the pattern has a group
    named ``value``, only that group is the span: the rest of the match is context ("NHC: ").

    ``context``, when set, must match within ``context_window`` characters before the span
    (case-insensitive): numbers like the Mexican NSS are only told apart from other 11-digit
    numbers by the word in front of them.
    """

    name: str = ""
    phi_type: str = ""
    pattern: re.Pattern[str]
    checksum: bool = False
    context: re.Pattern[str] | None = None
    context_window: int = 40

    def validate(self, value: str) -> bool:
        """Whether a matched value really is this PHI (a check digit, a valid date...)."""
        return True

    def analyze(self, text: str) -> list[PhiSpan]:
        """The spans of ``text`` this recogniser is sure of, left to right."""
        return list(self._spans(text))

    def _spans(self, text: str) -> Iterable[PhiSpan]:
        group = "value" if "value" in self.pattern.groupindex else 0
        for match in self.pattern.finditer(text):
            start, end = match.span(group)
            if start < 0 or start == end:
                continue
            if self.context is not None:
                before = text[max(0, start - self.context_window):start]
                if not self.context.search(before):
                    continue
            if self.validate(match.group(group)):
                yield PhiSpan(start, end, self.phi_type, source=self.name, validated=self.checksum)
