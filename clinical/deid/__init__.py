"""De-identification of Spanish clinical text: find PHI, replace it with placeholders, restore it.

Presidio's split: an :class:`Analyzer` (rule recognisers, person-name recognisers by trigger and
gazetteer, a CRF trained on MEDDOCAN, then document-level consistency) finds PHI spans typed with
MEDDOCAN's names; the :class:`Anonymizer` replaces them with consistent,
numbered placeholders ``__PHI_<TYPE>_<n>__`` and returns the mapping; the :class:`Deanonymizer`
puts the originals back, byte for byte. :func:`check_placeholders` tells whether a model's output
kept every placeholder, and :class:`SurrogateOperator` writes realistic fake PHI for training data.

    result = deidentify(text)              # result.text is safe to send to a model
    translated = engine(result.text)
    report = check_placeholders(translated, result.text)
    if report.ok:
        final = reidentify(translated, result.mapping)

:func:`deidentify` masks what identifies someone. What MEDDOCAN's guidelines also annotate but
identifies no one stays readable for the translator: the patient's sex, ages under 90, bare kinship
terms ("la familia", "su madre") and descriptions such as "casada" (see
:mod:`clinical.deid.readable`; ``Analyzer.with_model()`` and the ``annotate``/``evaluate`` commands
follow the guidelines).

Nothing here logs PHI: only counts and types. The mapping is PHI; keep it server-side.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection

from clinical.deid.analyzer import Analyzer, Recognizer, default_analyzer
from clinical.deid.anonymizer import Anonymizer, DeidResult
from clinical.deid.deanonymizer import Deanonymizer, UnknownPlaceholderError
from clinical.deid.mapping import PhiMapping
from clinical.deid.phi_types import MEDDOCAN_TYPES, PLACEHOLDER_TYPES, placeholder_type
from clinical.deid.placeholder_check import PlaceholderReport, check_placeholders
from clinical.deid.span import PhiSpan
from clinical.deid.surrogates import SurrogateOperator, SurrogateResult

__all__ = [
    "MEDDOCAN_TYPES",
    "PLACEHOLDER_TYPES",
    "Analyzer",
    "Anonymizer",
    "Deanonymizer",
    "DeidResult",
    "PhiMapping",
    "PhiSpan",
    "PlaceholderReport",
    "Recognizer",
    "SurrogateOperator",
    "SurrogateResult",
    "UnknownPlaceholderError",
    "check_placeholders",
    "default_analyzer",
    "deidentify",
    "placeholder_type",
    "reidentify",
    "surrogate",
]

logger = logging.getLogger(__name__)


def deidentify(text: str, analyzer: Analyzer | None = None, types: Collection[str] | None = None) -> DeidResult:
    """``text`` with its PHI replaced by placeholders, and the mapping to restore it.

    ``analyzer`` defaults to the shipped model with every rule (loaded once per process);
    ``types`` (MEDDOCAN names) restricts what is replaced.
    """
    spans = (analyzer or default_analyzer()).analyze(text, types=types)
    return Anonymizer().anonymize(text, spans)


def reidentify(text: str, mapping: PhiMapping, strict: bool = True,
               render: Callable[[str, str], str] | None = None) -> str:
    """``text`` with every placeholder of ``mapping`` replaced by its original.

    With ``strict`` (the default) a placeholder the mapping does not know raises
    :class:`UnknownPlaceholderError`; check a model's output with :func:`check_placeholders` first.
    ``render(placeholder_type, original)`` may rewrite each original for the output's language
    (:func:`clinical.translate.english_phi.render_in_english`); without it the text is restored
    byte for byte.
    """
    return Deanonymizer().deanonymize(text, mapping, strict=strict, render=render)


def surrogate(text: str, seed: int = 0, analyzer: Analyzer | None = None) -> SurrogateResult:
    """``text`` with its PHI replaced by realistic invented values (deterministic for ``seed``)."""
    spans = (analyzer or default_analyzer()).analyze(text)
    return SurrogateOperator(seed).apply(text, spans)
