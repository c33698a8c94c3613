"""A gazetteer of Hispanic given names and surnames (Chile, Mexico, Spain) for the name recognisers.

``data/person_names.tsv`` (built by ``python -m clinical.deid gazetteer``, see
:mod:`clinical.deid.names.gazetteer_build`) lists single words, each a ``given`` name, a
``surname`` or both, compared in :func:`~clinical.deid.names.words.fold` form. The recognisers use
it to decide whether a capitalised word after "paciente" starts a name, to extend a name over a
surname the statistical model left out ("Rosa Elena Martínez" + "Fuentes"), and to find full
names with no title in front ("Juan Pérez González refiere...").
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from clinical.deid.names.words import fold

__all__ = ["GAZETTEER_FILE", "NameGazetteer", "load_gazetteer"]

GAZETTEER_FILE = "person_names.tsv"


@dataclass(frozen=True)
class NameGazetteer:
    """Folded given names and surnames; a word may be both ("Martín", "Santiago")."""

    given: frozenset[str]
    surnames: frozenset[str]

    @classmethod
    def from_tsv(cls, text: str) -> NameGazetteer:
        """Parse the ``name<TAB>kind<TAB>...`` table (``#`` lines are comments)."""
        lines = [line for line in text.splitlines() if line and not line.startswith("#")]
        given: set[str] = set()
        surnames: set[str] = set()
        for row in csv.DictReader(lines, delimiter="\t"):
            kinds = row["kind"].split(",")
            if not set(kinds) <= {"given", "surname"}:
                raise ValueError(f"{GAZETTEER_FILE}: kind must be 'given' and/or 'surname', got {row['kind']!r}")
            key = fold(row["name"])
            if "given" in kinds:
                given.add(key)
            if "surname" in kinds:
                surnames.add(key)
        return cls(frozenset(given), frozenset(surnames))

    @property
    def words(self) -> frozenset[str]:
        """Every folded word of the gazetteer."""
        return self.given | self.surnames

    def is_given(self, word: str) -> bool:
        return fold(word) in self.given

    def is_surname(self, word: str) -> bool:
        return fold(word) in self.surnames

    def is_name(self, word: str) -> bool:
        key = fold(word)
        return key in self.given or key in self.surnames


@cache
def load_gazetteer(path: str | Path | None = None) -> NameGazetteer:
    """The packaged gazetteer (or the table at ``path``), parsed once per process."""
    if path is not None:
        return NameGazetteer.from_tsv(Path(path).read_text(encoding="utf-8"))
    data = resources.files("clinical.deid").joinpath("data", GAZETTEER_FILE)
    if not data.is_file():
        raise FileNotFoundError(
            f"name gazetteer {GAZETTEER_FILE} not found under clinical/deid/data/; build it with "
            "`python -m clinical.deid gazetteer`"
        )
    return NameGazetteer.from_tsv(data.read_text(encoding="utf-8"))
