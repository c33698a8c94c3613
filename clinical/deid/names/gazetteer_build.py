"""Building the name and place gazetteers from Alta's hand-written lists and MEDDOCAN train.

    python -m clinical.deid gazetteer --seed clinical/deid/data/names_alta.tsv \\
        --train third_party/meddocan/train --out clinical/deid/data/person_names.tsv

The place table (``places.tsv``: towns, regions and countries, ``TERRITORIO`` or ``PAIS``) is
built alongside from ``places_alta.tsv`` and the train split's ``TERRITORIO``/``PAIS`` spans
without digits; :mod:`clinical.deid.places.organisations` uses it to cut a town off a hospital's name.

Sources, recorded per word in the ``sources`` column:

- ``alta-handwritten``, ``alta-catalog``: ``names_alta.tsv``, common given names and surnames of
  Chile, Mexico and Spain written for Alta, and those of the synthetic-record catalog;
- ``meddocan-train``: words of MEDDOCAN train's ``NOMBRE_SUJETO_ASISTENCIA`` and
  ``NOMBRE_PERSONAL_SANITARIO`` spans (CC BY 4.0, see ``third_party/meddocan/ATTRIBUTION.md``).
  A word under a "Nombre:" field is a given name, under "Apellidos:" a surname; in a full name
  ("Ignacio Navarro Cuéllar") the first word is a given name, as are the next ones already known
  as given names, and the rest are surnames. Only the train split is read, never dev or test.

Only single words are kept, without particles ("de la Cruz" gives "Cruz"), and never a word the
name recognisers treat as something else (:data:`~clinical.deid.names.words.NOT_NAMES`, kinship
terms, the big cities of :data:`~clinical.deid.names.words.PLACE_WORDS`), so the table cannot make
"Servicio", "Paciente" or "Madrid" a name.
"""

from __future__ import annotations

import csv
import logging
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from clinical.deid.corpus.brat import read_corpus
from clinical.deid.names.words import KINSHIP, KINSHIP_SURNAMES, NOT_NAMES, PARTICLES, PLACE_WORDS, fold

__all__ = ["GazetteerConfig", "build_gazetteer", "build_places", "write_gazetteer", "write_places"]

logger = logging.getLogger(__name__)

_NAME_TYPES = ("NOMBRE_SUJETO_ASISTENCIA", "NOMBRE_PERSONAL_SANITARIO")
_WORD = re.compile(r"[^\W\d_]+(?:['-][^\W\d_]+)*")
_HEADER = ("# {what} for clinical.deid's recognisers. Built by `python -m clinical.deid gazetteer`;\n"
           "# sources: see clinical/deid/data/README.md (MEDDOCAN train: CC BY 4.0, "
           "third_party/meddocan/ATTRIBUTION.md).\n")


@dataclass
class GazetteerConfig:
    """Where the gazetteer's sources are and where it goes."""

    seed: Path = field(default=Path("clinical/deid/data/names_alta.tsv"),
                       metadata={"help": "hand-written names: name<TAB>kind<TAB>source"})
    train: Path = field(default=Path("third_party/meddocan/train"),
                        metadata={"help": "MEDDOCAN train (BRAT); its name annotations are added"})
    out: Path = field(default=Path("clinical/deid/data/person_names.tsv"), metadata={"help": "table to write"})
    places_seed: Path = field(default=Path("clinical/deid/data/places_alta.tsv"),
                              metadata={"help": "hand-written places: name<TAB>TERRITORIO|PAIS<TAB>source"})
    places_out: Path = field(default=Path("clinical/deid/data/places.tsv"), metadata={"help": "place table to write"})


def _usable(word: str) -> bool:
    key = fold(word)
    return (len(key) >= 2 and word[0].isupper() and key != "san"
            and not any(key in words for words in (PARTICLES, NOT_NAMES, KINSHIP - KINSHIP_SURNAMES, PLACE_WORDS)))


def _display(word: str) -> str:
    """``word`` as the table shows it: title case, keeping inner capitals ("McDonald" stays)."""
    return word[0] + word[1:].lower() if word.isupper() else word


class _Table:
    def __init__(self) -> None:
        self.kinds: dict[str, set[str]] = defaultdict(set)
        self.sources: dict[str, set[str]] = defaultdict(set)
        self.shown: dict[str, str] = {}

    def add(self, phrase: str, kind: str, source: str) -> None:
        for word in _WORD.findall(phrase):
            if _usable(word):
                key = fold(word)
                self.shown.setdefault(key, _display(word))
                self.kinds[key].add(kind)
                self.sources[key].add(source)


def _field_label(text: str, start: int) -> str:
    line_start = text.rfind("\n", 0, start) + 1
    return fold(text[line_start:start]).strip(" \t\ufeff")


def _meddocan_names(train: Path, table: _Table) -> int:
    """Add the words of MEDDOCAN train's name spans; returns the number of spans read."""
    known_given = {key for key, kinds in table.kinds.items() if "given" in kinds}
    full_names: list[list[str]] = []
    spans = 0
    for document in read_corpus(train):
        for span in document.spans:
            if span.type not in _NAME_TYPES:
                continue
            spans += 1
            surface = document.text[span.start:span.end]
            label = _field_label(document.text, span.start)
            if label.endswith("nombre:"):
                table.add(surface, "given", "meddocan-train")
                known_given.update(fold(w) for w in _WORD.findall(surface))
            elif label.endswith("apellidos:"):
                table.add(surface, "surname", "meddocan-train")
            else:
                full_names.append([w for w in _WORD.findall(surface) if _usable(w)])
    # Full names after the given names under "Nombre:" are known, to tell given from surname.
    for words in full_names:
        if len(words) < 2:
            continue
        # "Ignacio Navarro Cuéllar": a given name first when there are three words or the first is
        # a known given name ("Alonso Cabrera"; "Marrupe González" is two surnames); the last word
        # is always a surname.
        given_run = len(words) >= 3 or fold(words[0]) in known_given
        for index, word in enumerate(words):
            if index:
                given_run = given_run and fold(word) in known_given and index < len(words) - 1
            table.add(word, "given" if given_run else "surname", "meddocan-train")
    return spans


def _seed_rows(seed: Path) -> Iterable[dict[str, str]]:
    with seed.open(encoding="utf-8") as handle:
        lines = [line for line in handle if line.strip() and not line.startswith("#")]
    for number, row in enumerate(csv.DictReader(lines, delimiter="\t"), start=2):
        if row.get("kind") not in ("given", "surname") or not row.get("name"):
            raise ValueError(f"{seed} row {number}: expected name<TAB>given|surname<TAB>source")
        yield row


def build_gazetteer(config: GazetteerConfig) -> list[tuple[str, str, str]]:
    """The gazetteer rows ``(name, kinds, sources)``, sorted by folded name."""
    table = _Table()
    for row in _seed_rows(config.seed):
        table.add(row["name"], row["kind"], row.get("source") or "alta-handwritten")
    spans = _meddocan_names(config.train, table)
    logger.info("gazetteer: %d words (%d MEDDOCAN train name spans read)", len(table.kinds), spans)
    return [(table.shown[key], ",".join(sorted(table.kinds[key])), ",".join(sorted(table.sources[key])))
            for key in sorted(table.kinds)]


def write_gazetteer(rows: list[tuple[str, str, str]], out: Path) -> None:
    """Write ``rows`` as the TSV :func:`clinical.deid.names.gazetteer.load_gazetteer` reads."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="\n") as handle:
        handle.write(_HEADER.format(what="Given names and surnames"))
        handle.write("name\tkind\tsources\n")
        for row in rows:
            handle.write("\t".join(row) + "\n")


_PLACE_TYPES = ("TERRITORIO", "PAIS")
_PLACE = re.compile(r"[^\W\d_][^\d.,;:()/]*")


def build_places(config: GazetteerConfig) -> list[tuple[str, str, str]]:
    """The place rows ``(name, type, sources)``: hand-written ones and MEDDOCAN train's, by name."""
    rows: dict[str, tuple[str, str, set[str]]] = {}
    with config.places_seed.open(encoding="utf-8") as handle:
        lines = [line for line in handle if line.strip() and not line.startswith("#")]
    seeds = [(r["name"], r["kind"], r.get("source") or "alta-handwritten") for r in csv.DictReader(lines, delimiter="\t")]
    for document in read_corpus(config.train):
        for span in document.spans:
            surface = " ".join(document.text[span.start:span.end].split())
            if span.type in _PLACE_TYPES and _PLACE.fullmatch(surface) and len(surface.split()) <= 4:
                seeds.append((surface, span.type, "meddocan-train"))
    for name, kind, source in seeds:
        if kind not in _PLACE_TYPES:
            raise ValueError(f"{config.places_seed}: place type must be TERRITORIO or PAIS, got {kind!r}")
        if not name[0].isupper() or fold(name) in NOT_NAMES:
            continue
        rows.setdefault(fold(name), (name, kind, set()))[2].add(source)
    logger.info("places: %d names", len(rows))
    return [(shown, kind, ",".join(sorted(sources))) for _, (shown, kind, sources) in sorted(rows.items())]


def write_places(rows: list[tuple[str, str, str]], out: Path) -> None:
    """Write ``rows`` as the TSV :func:`clinical.deid.places.place_gazetteer.load_places` reads."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="\n") as handle:
        handle.write(_HEADER.format(what="Towns, regions and countries"))
        handle.write("name\ttype\tsources\n")
        for row in rows:
            handle.write("\t".join(row) + "\n")
