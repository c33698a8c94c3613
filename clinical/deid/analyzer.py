"""The analyzer: runs every recogniser over a text and returns one clean list of PHI spans."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Protocol

from clinical.deid.crf.recognizer import DEFAULT_MODEL_PATH, CrfRecognizer
from clinical.deid.names.consistency import harmonise_person_types, propagate_name_variants
from clinical.deid.names.extension import (
    complete_names,
    cut_names_before_other_phi,
    drop_model_spans_around_names,
    end_names_at_organisations,
)
from clinical.deid.names.gazetteer import NameGazetteer, load_gazetteer
from clinical.deid.names.propagation import propagate
from clinical.deid.places.organisations import fix_organisations
from clinical.deid.readable import keep_readable
from clinical.deid.recognizers import default_name_recognizers, default_rule_recognizers
from clinical.deid.span import PhiSpan
from clinical.deid.span_merger import merge_spans

__all__ = ["PASSES", "Analyzer", "Pass", "Recognizer", "default_analyzer"]

logger = logging.getLogger(__name__)


class Recognizer(Protocol):
    """Anything that finds PHI spans in a text: a rule, the CRF, a caller's own recogniser."""

    name: str

    def analyze(self, text: str) -> list[PhiSpan]: ...


@dataclass
class Document:
    """What a pass may read besides the spans: the text, the name gazetteer, and the candidates the
    recognisers found (name edges fixed, before merging), which person-type harmonising weighs."""

    text: str
    gazetteer: NameGazetteer
    candidates: list[PhiSpan]


@dataclass(frozen=True)
class Pass:
    """One step after the recognisers: ``run(document, spans)`` returns the new spans. ``when``
    names the Analyzer option it needs (``propagate_mentions``; ``readable``: ``kinship_terms`` off)."""

    name: str
    run: Callable[[Document, list[PhiSpan]], list[PhiSpan]]
    when: str | None = None


def _merge(doc: Document, spans: list[PhiSpan]) -> list[PhiSpan]:
    doc.candidates = spans
    return merge_spans(doc.text, spans)


def _propagate(doc: Document, spans: list[PhiSpan]) -> list[PhiSpan]:
    extra = propagate(doc.text, spans)
    return merge_spans(doc.text, [*spans, *extra]) if extra else spans


PASSES: tuple[Pass, ...] = (
    # Candidates of every recogniser, overlapping:
    Pass("cut names before other PHI", lambda d, s: cut_names_before_other_phi(d.text, s, d.gazetteer)),
    Pass("drop model spans around names", lambda d, s: drop_model_spans_around_names(d.text, s, d.gazetteer)),
    # One non-overlapping list from here on:
    Pass("merge spans", _merge),
    Pass("fix organisations", lambda d, s: fix_organisations(d.text, s)),
    Pass("end names at organisations", lambda d, s: end_names_at_organisations(d.text, s)),
    # Document-level consistency:
    Pass("complete names", lambda d, s: complete_names(d.text, s, d.gazetteer), "propagate_mentions"),
    Pass("harmonise person types", lambda d, s: harmonise_person_types(d.text, s, d.candidates, d.gazetteer),
         "propagate_mentions"),
    Pass("propagate mentions", _propagate, "propagate_mentions"),
    Pass("propagate name variants", lambda d, s: propagate_name_variants(d.text, s, d.gazetteer),
         "propagate_mentions"),
    # Mentions found by propagation ("Curiñir Ayala-Tapia") get their given names too.
    Pass("complete propagated names", lambda d, s: complete_names(d.text, s, d.gazetteer), "propagate_mentions"),
    # Alta's profile for translation: what identifies no one stays readable.
    Pass("keep readable", lambda d, s: keep_readable(d.text, s, d.gazetteer), "readable"),
)
"""The analyzer's steps after the recognisers, in order."""


class Analyzer:
    """Finds the PHI of a text: rules + statistical model, merged, then made consistent.

    Steps: every recogniser runs on the whole text; a name rule's span ends where another kind of
    PHI starts, and wins over a model span of another kind around it
    (:mod:`~clinical.deid.names.extension`); overlapping
    spans are resolved by
    :func:`~clinical.deid.span_merger.merge_spans` (check-digit-validated identifiers win, then the
    longest span) and hospitals and institutions get MEDDOCAN's edges and types
    (:func:`~clinical.deid.places.organisations.fix_organisations`). With ``propagate_mentions``, document-level steps follow: person names are
    extended over adjacent surnames (:func:`~clinical.deid.names.extension.complete_names`), each
    person gets one type (:func:`~clinical.deid.names.consistency.harmonise_person_types`), and
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
        options = {"propagate_mentions": self.propagate_mentions, "readable": not self.kinship_terms}
        doc = Document(text, self.gazetteer, found)
        spans = found
        for step in PASSES:
            if step.when is None or options[step.when]:
                spans = step.run(doc, spans)
        if types is not None:
            wanted = set(types)
            spans = [s for s in spans if s.type in wanted]
        # Counts and types only: the spans' text is PHI.
        logger.debug("found %d PHI spans: %s", len(spans), dict(Counter(s.type for s in spans)))
        return spans


@cache
def default_analyzer() -> Analyzer:
    """The analyzer :func:`clinical.deid.deidentify` uses: the shipped model and every rule, with
    bare kinship terms left readable (see :mod:`clinical.deid.names.kinship`); built once per process."""
    return Analyzer.with_model(kinship_terms=False)
