"""The CIE-10 code table (Spanish description, English WHO ICD-10 description) read from the TSV."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

CIE10_PATH = Path(__file__).parent / "data" / "cie10.tsv"
COLUMNS = ("code", "es", "en")

# A category (three characters: letter, digit, digit or letter) and an optional subdivision.
_CODE = re.compile(r"^([A-Z][0-9][0-9A-Z])(?:\.?([0-9A-Z]{1,4}))?$")


def normalise_code(code: str) -> str | None:
    """``J189``, ``j18.9`` or ``J18.9`` -> ``J18.9``; ``I10`` stays ``I10``; anything else -> None."""
    match = _CODE.match(code.strip().upper())
    if match is None:
        return None
    category, subdivision = match.groups()
    return f"{category}.{subdivision}" if subdivision else category


@dataclass(frozen=True, slots=True)
class Cie10Entry:
    """One code: its Spanish description and, where WHO ICD-10 has the code, the English one."""

    code: str
    es: str
    en: str


class Cie10:
    """Look-ups by code over the vendored table."""

    def __init__(self, entries: list[Cie10Entry]) -> None:
        self._by_code = {entry.code: entry for entry in entries}

    def get(self, code: str) -> Cie10Entry | None:
        """The entry for ``code`` written with or without the dot, or None."""
        normalised = normalise_code(code)
        return self._by_code.get(normalised) if normalised else None

    def entries(self) -> Iterator[Cie10Entry]:
        """Every entry, in the table's order (by code)."""
        return iter(self._by_code.values())

    def __len__(self) -> int:
        return len(self._by_code)

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and self.get(code) is not None


def read_cie10(path: Path = CIE10_PATH) -> Cie10:
    """Parse a TSV with the columns ``code``, ``es``, ``en``."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader)
        if tuple(header) != COLUMNS:
            raise ValueError(f"{path}: expected the columns {COLUMNS}, found {tuple(header)}")
        return Cie10([Cie10Entry(*row) for row in reader if row])


@lru_cache(maxsize=1)
def load_cie10() -> Cie10:
    """The vendored table, read once per process."""
    return read_cie10(CIE10_PATH)
