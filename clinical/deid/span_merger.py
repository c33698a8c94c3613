"""Merging the spans of several recognisers into one non-overlapping list, with clear precedence."""

from __future__ import annotations

from collections.abc import Iterable

from clinical.deid.crf.boundaries import is_identifier_label
from clinical.deid.span import PhiSpan

__all__ = ["merge_spans"]


# Guesses rank below the statistical model: a full name found by the gazetteer alone carries no
# evidence of its type, and propagated mentions copy another span's.
_GUESS_SOURCES = ("name-gazetteer", "propagation", "name-propagation")


def _source_rank(source: str) -> int:
    if source.startswith(_GUESS_SOURCES):
        return 2
    return 1 if source.startswith("crf") else 0


def _priority(span: PhiSpan) -> tuple[int, int, int, int, str, str]:
    # Check-digit-confirmed identifiers first (a valid RUT is a RUT whatever the CRF thinks), then
    # the longest span (it hides the most), then rules over the statistical model (a rule that
    # fires is precise) over guesses, then the leftmost; type and source make ties deterministic.
    return (0 if span.validated else 1, -len(span), _source_rank(span.source), span.start, span.type, span.source)


def merge_spans(text: str, spans: Iterable[PhiSpan]) -> list[PhiSpan]:
    """The spans sorted by position, none overlapping, nothing any recogniser found left out.

    Spans are taken in precedence order (check digit, length, rule over model, position). A span
    that overlaps one already taken keeps only its parts outside it, trimmed of surrounding
    spaces and punctuation, and only if they still contain a letter or digit: a partial overlap
    must not leave the rest of a name visible.
    """
    kept: list[PhiSpan] = []
    for span in sorted(set(spans), key=_priority):
        pieces = [(span.start, span.end)]
        for other in kept:
            pieces = [part for a, b in pieces for part in _minus(a, b, other)]
        if pieces == [(span.start, span.end)]:
            kept.append(span)
            continue
        for a, b in pieces:
            a, b = _trim(text, a, b)
            # The leftover of a span that overlapped an identifier is often just its label.
            if a < b and not is_identifier_label(text[a:b]):
                kept.append(PhiSpan(a, b, span.type, span.source + "-trimmed"))
    return sorted(kept)


def _minus(a: int, b: int, other: PhiSpan) -> list[tuple[int, int]]:
    """The parts of ``[a, b)`` outside ``other``."""
    if other.end <= a or b <= other.start:
        return [(a, b)]
    return [(x, y) for x, y in ((a, other.start), (other.end, b)) if x < y]


def _trim(text: str, a: int, b: int) -> tuple[int, int]:
    """``[a, b)`` without leading/trailing non-alphanumerics; empty if nothing alphanumeric is left."""
    while a < b and not text[a].isalnum():
        a += 1
    while b > a and not text[b - 1].isalnum():
        b -= 1
    return a, b
