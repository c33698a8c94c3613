"""BIO labels: PHI spans <-> one label per token, the form a sequence labeller learns and predicts."""

from __future__ import annotations

from collections.abc import Sequence

from clinical.deid.crf.tokenizer import Token
from clinical.deid.span import PhiSpan

__all__ = ["decode", "encode"]


def encode(tokens: Sequence[Token], spans: Sequence[PhiSpan], scheme: str = "BIO") -> list[str]:
    """One label per token, ``BIO`` (``B-``/``I-TYPE``, ``O``) or ``BILOU`` (also ``L-``, ``U-``).

    A token belongs to a span when it overlaps it. BILOU makes span ends explicit but doubles the
    labels, and with them the CRF's training time; on MEDDOCAN it scored no better than BIO.

    Overlap rather than containment: the few gold spans whose edge falls inside a token
    ("DRAlberto") then still teach the model the token, at the cost of a slightly wider span.
    """
    labels = ["O"] * len(tokens)
    index = 0
    for span in sorted(spans):
        while index < len(tokens) and tokens[index].end <= span.start:
            index += 1
        j = index
        while j < len(tokens) and tokens[j].start < span.end:
            j += 1
        if j == index:
            continue  # a span over whitespace only: no token to label
        if scheme == "BIO":
            labels[index:j] = ["B-" + span.type] + ["I-" + span.type] * (j - index - 1)
        elif j - index == 1:
            labels[index] = "U-" + span.type
        else:
            labels[index] = "B-" + span.type
            labels[index + 1:j - 1] = ["I-" + span.type] * (j - index - 2)
            labels[j - 1] = "L-" + span.type
    return labels


def decode(tokens: Sequence[Token], labels: Sequence[str], source: str = "crf") -> list[PhiSpan]:
    """Spans from BILOU (or BIO) labels, leniently: an ``I-``/``L-`` with no open span of its type
    starts one, and a span is closed by ``L-``/``U-``, ``O`` or a change of type."""
    spans = []
    start = end = -1
    current = None
    for token, label in zip(tokens, labels, strict=True):
        tag, _, type_ = label.partition("-")
        if tag in ("I", "L") and type_ == current:
            end = token.end
        else:
            if current is not None:
                spans.append(PhiSpan(start, end, current, source=source))
                current = None
            if tag != "O":
                current, start, end = type_, token.start, token.end
        if tag in ("L", "U") and current is not None:
            spans.append(PhiSpan(start, end, current, source=source))
            current = None
    if current is not None:
        spans.append(PhiSpan(start, end, current, source=source))
    return spans
