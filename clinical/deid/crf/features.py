"""Token features for the CRF recogniser: word form, shape, affixes, context window, field labels.

No name lists: names come from the text itself, so the model generalises to people it never saw.
Places are the exception: whether a token starts or continues a town, region or country name of
the GeoNames/ISO 3166 gazetteer (:mod:`clinical.deid.places.geo_gazetteer`, sources unrelated to
MEDDOCAN, so training does not learn to trust its own annotations). Besides the usual
word/shape/affix window, two kinds of context matter in clinical documents:

- the *field label* a token follows on its line ("Nombre:", "NHC:", "NºCol:", "Remitido por:") and
  how far after it the token is; report headers are forms, and a value is PHI because of its label;
- the label under which the same word first appeared in the document, so "Rivera" in the narrative
  is recognised as the surname given under "Apellidos:" in the header.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from clinical.deid.crf.tokenizer import Token
from clinical.deid.places.geo_gazetteer import match_places

__all__ = ["document_features"]

_WINDOW = 2
_MAX_LABEL_DISTANCE = 8


@lru_cache(maxsize=200_000)
def _strip_accents(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", word) if not unicodedata.combining(c))


@lru_cache(maxsize=200_000)
def _shape(word: str) -> str:
    """``Xxxx`` -> ``Xx``; ``12/05`` -> ``d/d``: runs of one character class collapsed."""
    out = []
    for char in word:
        if char.isupper():
            kind = "X"
        elif char.isalpha():
            kind = "x"
        elif char.isdigit():
            kind = "d"
        else:
            kind = char
        if not out or out[-1] != kind:
            out.append(kind)
    return "".join(out)


@lru_cache(maxsize=200_000)
def _word_features(word: str) -> tuple[str, ...]:
    """Features of a word in isolation (cached: the same words recur across documents)."""
    lower = word.lower()
    plain = _strip_accents(lower)
    feats = [f"w={lower}", f"sh={_shape(word)}"]
    if word.isalpha():
        feats += [f"s3={plain[-3:]}", f"s2={plain[-2:]}", f"p3={plain[:3]}", f"s4={plain[-4:]}"]
        if word.istitle():
            feats.append("title")
        elif word.isupper():
            feats.append("upper")
        elif word.islower():
            feats.append("lower")
        if plain != lower:
            feats.append("accent")
        feats.append(f"len={min(len(word), 8)}")
    elif word.isdecimal():
        feats.append(f"dlen={len(word)}")
        value = int(word)
        if len(word) <= 2:
            feats.append("day" if 1 <= value <= 31 else "num2")
            if 1 <= value <= 12:
                feats.append("month")
        elif len(word) == 4:
            feats.append("year" if 1900 <= value <= 2030 else "num4")
    else:
        feats.append("punct")
    return tuple(feats)


def _label_of(tokens: list[Token], colon: int) -> str:
    """The field label before the colon at ``colon``: up to two word tokens on the same line."""
    words = []
    j = colon - 1
    line = tokens[colon].line
    while j >= 0 and tokens[j].line == line and len(words) < 2:
        text = tokens[j].text
        if text.isalpha() or text == "º":
            words.append(text.lower())
        elif text not in "./":
            break
        j -= 1
    return "_".join(reversed(words)) or "none"


def _field_context(tokens: list[Token]) -> list[tuple[str, int]]:
    """For each token, the label of the last ``Label:`` before it on its line and the distance."""
    out: list[tuple[str, int]] = []
    label, colon, line = "none", -1, -1
    for i, token in enumerate(tokens):
        if token.line != line:
            label, colon, line = "none", -1, token.line
        out.append((label, i - colon if colon >= 0 else 0))
        if token.text == ":":
            label, colon = _label_of(tokens, i), i
    return out


_SENTENCE_END = re.compile(r"^[.!?;]$")


def document_features(tokens: list[Token]) -> list[list[str]]:
    """The CRF feature strings of every token of one document."""
    words = [_word_features(t.text) for t in tokens]
    lowers = [t.text.lower() for t in tokens]
    shapes = [_shape(t.text) for t in tokens]
    fields = _field_context(tokens)
    places: list[str | None] = [None] * len(tokens)
    for start, end, kind in match_places([t.text for t in tokens]):
        for j in range(start, end):
            places[j] = f"{'B' if j == start else 'I'}-{kind}"

    # The field label under which each word first appears in the document (header fields).
    first_label: dict[str, str] = {}
    for token, (label, distance), lower in zip(tokens, fields, lowers, strict=True):
        if label != "none" and 0 < distance <= _MAX_LABEL_DISTANCE and len(lower) > 2 and token.text[0].isupper():
            first_label.setdefault(lower, label)

    n = len(tokens)
    out = []
    for i, token in enumerate(tokens):
        feats = ["bias", *words[i]]
        label, distance = fields[i]
        if label != "none":
            feats += [f"lab={label}", f"lab={label}|d={min(distance, _MAX_LABEL_DISTANCE)}"]
        first = i == 0 or tokens[i - 1].line != token.line
        last = i == n - 1 or tokens[i + 1].line != token.line
        if first:
            feats.append("bol")
        if last:
            feats.append("eol")
        if first or _SENTENCE_END.match(tokens[i - 1].text):
            feats.append("sent_start")
        if i > 0 and tokens[i - 1].end == token.start:
            feats.append("glued_left")
        if i < n - 1 and tokens[i + 1].start == token.end:
            feats.append("glued_right")
        for offset in (-1, 0, 1):
            j = i + offset
            if 0 <= j < n and places[j] is not None:
                feats.append(f"{offset}geo={places[j]}")
        seen = first_label.get(lowers[i])
        if seen is not None and (label != seen or distance > _MAX_LABEL_DISTANCE):
            feats.append(f"seen_as={seen}")
        for offset in range(-_WINDOW, _WINDOW + 1):
            if offset == 0:
                continue
            j = i + offset
            if 0 <= j < n:
                feats += [f"{offset}w={lowers[j]}", f"{offset}sh={shapes[j]}"]
                if tokens[j].text[:1].isupper():
                    feats.append(f"{offset}cap")
            else:
                feats.append(f"{offset}pad")
        if i > 0:
            feats.append(f"bi-={lowers[i - 1]}|{lowers[i]}")
        if i < n - 1:
            feats.append(f"bi+={lowers[i]}|{lowers[i + 1]}")
        # The previous and next words skipping punctuation: "Dr. ", "c/ ", "( ".
        for step, name in ((-1, "pw"), (1, "nw")):
            j = i + step
            while 0 <= j < n and not tokens[j].text[0].isalnum():
                j += step
            if 0 <= j < n and abs(j - i) > 1:
                feats.append(f"{name}={lowers[j]}")
        out.append(feats)
    return out
