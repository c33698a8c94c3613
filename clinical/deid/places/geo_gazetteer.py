"""Town, region and country names (``data/geo.tsv``) matched over a token sequence, for the CRF.

The model learns from MEDDOCAN train how much a match means in each context; the gazetteer only
says that "Getxo", "Fort Worth" or "Marruecos" are place names, which 500 training documents
cannot teach for every town. Matches are the longest run of up to four tokens whose folded words
equal a name, starting at a capitalised word.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from clinical.deid.names.words import fold
from clinical.deid.places.place_gazetteer import read_data_table

__all__ = ["GEO_FILE", "load_geo", "match_places"]

GEO_FILE = "geo.tsv"
_MAX_WORDS = 6  # tokens, punctuation included: "EE . UU ."


@cache
def load_geo() -> dict[tuple[str, ...], str]:
    """Folded token tuple ("fort", "worth") -> ``city``, ``region`` or ``country``."""
    from clinical.deid.crf.tokenizer import tokenize

    rows = read_data_table(GEO_FILE, "place gazetteer", "python -m clinical.deid geo")
    table: dict[tuple[str, ...], str] = {}
    for row in rows:
        key = tuple(fold(t.text) for t in tokenize(row["name"]))
        if 0 < len(key) <= _MAX_WORDS:
            table.setdefault(key, row["kind"])
    return table


def match_places(words: Sequence[str]) -> list[tuple[int, int, str]]:
    """``(start, end, kind)`` token ranges of ``words`` that are place names, longest first, not overlapping."""
    table = load_geo()
    folded = [fold(w) for w in words]
    out = []
    i = 0
    while i < len(words):
        found = None
        if words[i][:1].isupper():
            for length in range(min(_MAX_WORDS, len(words) - i), 0, -1):
                kind = table.get(tuple(folded[i:i + length]))
                if kind is not None:
                    found = (i, i + length, kind)
                    break
        if found:
            out.append(found)
            i = found[1]
        else:
            i += 1
    return out
