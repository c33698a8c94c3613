"""The analyzer: runs every recogniser over a text and returns one clean list of PHI spans."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Collection, Sequence
from functools import cache
from pathlib import Path
from typing import Protocol

from clinical.deid.crf_recognizer import DEFAULT_MODEL_PATH, CrfRecognizer
from clinical.deid.propagation import propagate
from clinical.deid.recognizers import default_rule_recognizers
from clinical.deid.span import PhiSpan
from clinical.deid.span_merger import merge_spans

__all__ = ["Analyzer", "Recognizer", "default_analyzer"]

logger = logging.getLogger(__name__)


class Recognizer(Protocol):
    """Anything that finds PHI spans in a text: a rule, the CRF, a caller's own recogniser."""

    name: str

    def analyze(self, text: str) -> list[PhiSpan]: ...


class Analyzer:
    """Finds the PHI of a text: rules + statistical model, merged, then propagated.

    Steps: every recogniser runs on the whole text; overlapping spans are resolved by
    :func:`~clinical.deid.span_merger.merge_spans` (check-digit-validated identifiers win, then the
    longest span); strings found as names, hospitals, streets or identifiers are then looked for
    elsewhere in the text (:func:`~clinical.deid.propagation.propagate`) and merged again.
    """

    def __init__(self, recognizers: Sequence[Recognizer], propagate_mentions: bool = True):
        if not recognizers:
            raise ValueError("an Analyzer needs at least one recogniser")
        self.recognizers = tuple(recognizers)
        self.propagate_mentions = propagate_mentions

    @classmethod
    def with_model(cls, model_path: str | Path = DEFAULT_MODEL_PATH, rules: bool = True) -> Analyzer:
        """The standard analyzer: the rule recognisers and the CRF model at ``model_path``."""
        recognizers: list[Recognizer] = list(default_rule_recognizers()) if rules else []
        recognizers.append(CrfRecognizer(model_path))
        return cls(recognizers)

    def analyze(self, text: str, types: Collection[str] | None = None) -> list[PhiSpan]:
        """Non-overlapping PHI spans of ``text`` sorted by position; ``types`` keeps only those."""
        found: list[PhiSpan] = []
        for recognizer in self.recognizers:
            found.extend(recognizer.analyze(text))
        spans = merge_spans(text, found)
        if self.propagate_mentions:
            extra = propagate(text, spans)
            if extra:
                spans = merge_spans(text, [*spans, *extra])
        if types is not None:
            wanted = set(types)
            spans = [s for s in spans if s.type in wanted]
        # Counts and types only: the spans' text is PHI.
        logger.debug("found %d PHI spans: %s", len(spans), dict(Counter(s.type for s in spans)))
        return spans


@cache
def default_analyzer() -> Analyzer:
    """The standard analyzer with the shipped model, built once per process."""
    return Analyzer.with_model()
