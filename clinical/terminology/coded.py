"""CIE-10 codes written with their Spanish description ("J18.9 Neumonía, no especificada"): the
description's span, so a translator can put the WHO ICD-10 English one in its place."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

from clinical.terminology.cie10 import Cie10, Cie10Entry, load_cie10

__all__ = ["CodedDescription", "find_coded_descriptions"]

# A code as clinicians write it, then what separates it from its description.
_CODE = re.compile(r"(?<![\w.])([A-Z][0-9][0-9A-Z](?:\.?[0-9A-Z]{1,4})?)(?![\w])[ \t]*(?:[-–:)][ \t]*)?")


def _fold(text: str) -> str:
    plain = "".join(c for c in unicodedata.normalize("NFD", text.lower()) if unicodedata.category(c) != "Mn")
    return re.sub(r"[^\w]+", " ", plain).strip()


@dataclass(frozen=True)
class CodedDescription:
    """``text[start:end]`` is the Spanish description of ``entry`` written after its code."""

    start: int
    end: int
    entry: Cie10Entry


def find_coded_descriptions(text: str, table: Cie10 | None = None) -> Iterator[CodedDescription]:
    """Each code in ``text`` followed by its own Spanish description (accents, case and punctuation
    aside) whose code has an English description."""
    table = table or load_cie10()
    for match in _CODE.finditer(text):
        entry = table.get(match.group(1))
        if entry is None or not entry.en:
            continue
        wanted = _fold(entry.es)
        start = match.end()
        # The shortest stretch that reads as the Spanish description (punctuation after it stays).
        window = text[start:start + len(entry.es) + 20]
        for end in range(max(1, len(entry.es) - 10), len(window) + 1):
            if _fold(window[:end]) == wanted and (end == len(window) or not window[end].isalnum()):
                if end < len(window) and entry.es[-1] in ")]" and window[end] == entry.es[-1]:
                    end += 1  # the closing bracket belongs to the description
                yield CodedDescription(start, start + end, entry)
                break
