"""The anonymizer: replaces PHI spans with typed, numbered placeholders and keeps the mapping."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from clinical.deid.mapping import PhiMapping
from clinical.deid.phi_types import ESCAPE_TYPE, placeholder_type
from clinical.deid.placeholders import PREFIX, make_placeholder
from clinical.deid.span import PhiSpan

__all__ = ["Anonymizer", "DeidResult"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeidResult:
    """A de-identified text, the mapping that restores it and the spans found in the original.

    Only ``text`` may leave the server (to a model, a cache); ``mapping`` holds the PHI.
    """

    text: str
    mapping: PhiMapping
    spans: tuple[PhiSpan, ...]

    def __repr__(self) -> str:
        return f"DeidResult({len(self.text)} chars, {self.mapping!r})"


class Anonymizer:
    """Turns ``(text, spans)`` into placeholder text: ``__PHI_<TYPE>_<n>__``.

    - Numbered per placeholder type in order of first appearance, so the text reads naturally:
      ``__PHI_NOMBRE_1__`` is the first name met.
    - The same surface string of the same type always gets the same placeholder, so a model
      sees that the two mentions are one person, and re-identification restores each exactly.
    - Text that already contains ``__PHI_`` (a document about this very system, a malicious
      input) gets that fragment replaced by a ``LITERAL`` placeholder too, so the output never
      contains a placeholder-like string that the mapping does not explain, and re-identification
      is exact for any input.
    """

    def anonymize(self, text: str, spans: Iterable[PhiSpan]) -> DeidResult:
        spans = sorted(spans)
        for before, after in zip(spans, spans[1:], strict=False):
            if before.overlaps(after):
                raise ValueError("spans overlap; merge them first (clinical.deid.span_merger.merge_spans)")
        if spans and spans[-1].end > len(text):
            raise ValueError("a span ends past the end of the text")
        spans = self._with_escapes(text, spans)

        originals: dict[str, str] = {}
        types: dict[str, str] = {}
        counts: Counter[str] = Counter()
        assigned: dict[tuple[str, str], str] = {}
        numbers: Counter[str] = Counter()
        parts: list[str] = []
        position = 0
        for span in spans:
            surface = text[span.start:span.end]
            short = placeholder_type(span.type)
            key = (short, surface)
            placeholder = assigned.get(key)
            if placeholder is None:
                numbers[short] += 1
                placeholder = make_placeholder(short, numbers[short])
                assigned[key] = placeholder
                originals[placeholder] = surface
                types[placeholder] = span.type
            counts[placeholder] += 1
            parts.append(text[position:span.start])
            parts.append(placeholder)
            position = span.end
        parts.append(text[position:])
        mapping = PhiMapping(originals, types, dict(counts))
        logger.info("de-identified %d spans into %d placeholders: %s", len(spans), len(originals),
                    dict(Counter(types.values())))
        return DeidResult("".join(parts), mapping, tuple(s for s in spans if s.type != ESCAPE_TYPE))

    @staticmethod
    def _with_escapes(text: str, spans: list[PhiSpan]) -> list[PhiSpan]:
        """``spans`` plus a LITERAL span over every ``__PHI_`` left in the text between them.

        Only a complete ``__PHI_`` in the text between spans can start a false placeholder: any
        shorter piece next to a real placeholder cannot complete the grammar (see placeholders.py).
        """
        if PREFIX not in text:
            return spans
        escapes = []
        bounds = [0, *(x for s in spans for x in (s.start, s.end)), len(text)]
        for start, end in zip(bounds[::2], bounds[1::2], strict=True):
            index = text.find(PREFIX, start, end)
            while index != -1 and index + len(PREFIX) <= end:
                escapes.append(PhiSpan(index, index + len(PREFIX), ESCAPE_TYPE, source="escape"))
                index = text.find(PREFIX, index + len(PREFIX), end)
        return sorted([*spans, *escapes])
