"""The analyzer: runs every recogniser over a text and returns one clean list of PHI spans."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Collection, Sequence
from functools import cache
from pathlib import Path
from typing import Protocol

from clinical.deid.crf_recognizer import DEFAULT_MODEL_PATH, CrfRecognizer
from clinical.deid.name_consistency import harmonise_person_types, propagate_name_variants
from clinical.deid.name_extension import (
    complete_names,
    cut_names_before_other_phi,
    drop_model_spans_around_names,
    end_names_at_organisations,
)
from clinical.deid.name_gazetteer import NameGazetteer, load_gazetteer
from clinical.deid.organisations import fix_organisations
from clinical.deid.propagation import propagate
from clinical.deid.readable import keep_readable
from clinical.deid.recognizers import default_name_recognizers, default_rule_recognizers
from clinical.deid.span import PhiSpan
from clinical.deid.span_merger import merge_spans

__all__ = ["Analyzer", "Recognizer", "default_analyzer"]

logger = logging.getLogger(__name__)


class Recognizer(Protocol):
    """Anything that finds PHI spans in a text: a rule, the CRF, a caller's own recogniser."""

    name: str

    def analyze(self, text: str) -> list[PhiSpan]: ...


class Analyzer:
    """Finds the PHI of a text: rules + statistical model, merged, then made consistent.

    Steps: every recogniser runs on the whole text; a name rule's span ends where another kind of
    PHI starts, and wins over a model span of another kind around it
    (:mod:`~clinical.deid.name_extension`); overlapping
    spans are resolved by
    :func:`~clinical.deid.span_merger.merge_spans` (check-digit-validated identifiers win, then the
    longest span) and hospitals and institutions get MEDDOCAN's edges and types
    (:func:`~clinical.deid.organisations.fix_organisations`). With ``propagate_mentions``, document-level steps follow: person names are
    extended over adjacent surnames (:func:`~clinical.deid.name_extension.complete_names`), each
    person gets one type (:func:`~clinical.deid.name_consistency.harmonise_person_types`), and
    strings found as names, hospitals, streets or identifiers, and the other written forms of
    names, are looked for elsewhere in the text and merged again.

    ``kinship_terms`` says whether what MEDDOCAN's guidelines annotate but identifies no one is
    PHI: a relative mentioned without a name ("la familia", "su madre"), a description of the
    patient ("casada", "de origen boliviano"), the patient's sex and an age under 90. Scoring and
    BRAT output follow the guidelines (true); Alta's de-identification for translation
    (:func:`default_analyzer`) leaves them readable (false), see :mod:`clinical.deid.readable`.
    """

    def __init__(self, recognizers: Sequence[Recognizer], propagate_mentions: bool = True,
                 kinship_terms: bool = True, gazetteer: NameGazetteer | None = None):
        if not recognizers:
            raise ValueError("an Analyzer needs at least one recogniser")
        self.recognizers = tuple(recognizers)
        self.propagate_mentions = propagate_mentions
        self.kinship_terms = kinship_terms
        self.gazetteer = gazetteer or load_gazetteer()

    @classmethod
    def with_model(cls, model_path: str | Path = DEFAULT_MODEL_PATH, rules: bool = True,
                   kinship_terms: bool = True) -> Analyzer:
        """The standard analyzer: the rule and name recognisers and the CRF model at ``model_path``."""
        recognizers: list[Recognizer] = [*default_rule_recognizers(), *default_name_recognizers()] if rules else []
        recognizers.append(CrfRecognizer(model_path))
        return cls(recognizers, kinship_terms=kinship_terms)

    def analyze(self, text: str, types: Collection[str] | None = None) -> list[PhiSpan]:
        """Non-overlapping PHI spans of ``text`` sorted by position; ``types`` keeps only those."""
        found: list[PhiSpan] = []
        for recognizer in self.recognizers:
            found.extend(recognizer.analyze(text))
        found = cut_names_before_other_phi(text, found, self.gazetteer)
        found = drop_model_spans_around_names(text, found, self.gazetteer)
        spans = fix_organisations(text, merge_spans(text, found))
        spans = end_names_at_organisations(text, spans)
        if self.propagate_mentions:
            spans = complete_names(text, spans, self.gazetteer)
            spans = harmonise_person_types(text, spans, found, self.gazetteer)
            extra = propagate(text, spans)
            if extra:
                spans = merge_spans(text, [*spans, *extra])
            spans = propagate_name_variants(text, spans, self.gazetteer)
            # Mentions found by propagation ("Curiñir Ayala-Tapia") get their given names too.
            spans = complete_names(text, spans, self.gazetteer)
        if not self.kinship_terms:
            spans = keep_readable(text, spans, self.gazetteer)
        if types is not None:
            wanted = set(types)
            spans = [s for s in spans if s.type in wanted]
        # Counts and types only: the spans' text is PHI.
        logger.debug("found %d PHI spans: %s", len(spans), dict(Counter(s.type for s in spans)))
        return spans


@cache
def default_analyzer() -> Analyzer:
    """The analyzer :func:`clinical.deid.deidentify` uses: the shipped model and every rule, with
    bare kinship terms left readable (see :mod:`clinical.deid.kinship`); built once per process."""
    return Analyzer.with_model(kinship_terms=False)
