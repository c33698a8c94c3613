"""Towns, regions and countries (``data/places.tsv``) by folded name, for the organisation fixes."""

from __future__ import annotations

import csv
from functools import cache
from importlib import resources

from clinical.deid.name_words import fold

__all__ = ["PLACES_FILE", "load_places"]

PLACES_FILE = "places.tsv"


@cache
def load_places() -> dict[str, str]:
    """Folded place name -> ``TERRITORIO`` or ``PAIS`` (built by ``python -m clinical.deid gazetteer``)."""
    data = resources.files("clinical.deid").joinpath("data", PLACES_FILE)
    if not data.is_file():
        raise FileNotFoundError(
            f"place gazetteer {PLACES_FILE} not found under clinical/deid/data/; build it with "
            "`python -m clinical.deid gazetteer`"
        )
    lines = [line for line in data.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
    return {fold(row["name"]): row["type"] for row in csv.DictReader(lines, delimiter="\t")}
