"""Towns, regions and countries (``data/places.tsv``) by folded name, for the organisation fixes."""

from __future__ import annotations

import csv
from functools import cache
from importlib import resources

from clinical.deid.names.words import fold

__all__ = ["PLACES_FILE", "load_places", "read_data_table"]

PLACES_FILE = "places.tsv"


def read_data_table(file_name: str, what: str, build_command: str) -> list[dict[str, str]]:
    """The rows of the TSV ``clinical/deid/data/<file_name>`` (``#`` lines are comments); a missing
    file is an error that says how to build it."""
    data = resources.files("clinical.deid").joinpath("data", file_name)
    if not data.is_file():
        raise FileNotFoundError(f"{what} {file_name} not found under clinical/deid/data/; build it with "
                                f"`{build_command}`")
    lines = [line for line in data.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
    return list(csv.DictReader(lines, delimiter="\t"))


@cache
def load_places() -> dict[str, str]:
    """Folded place name -> ``TERRITORIO`` or ``PAIS`` (built by ``python -m clinical.deid gazetteer``)."""
    rows = read_data_table(PLACES_FILE, "place gazetteer", "python -m clinical.deid gazetteer")
    return {fold(row["name"]): row["type"] for row in rows}
