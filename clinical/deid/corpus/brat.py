"""BRAT standoff files (``.ann``): read MEDDOCAN-style annotations and write Alta's own.

Only text-bound annotations (``T`` lines) matter for de-identification; a discontinuous span
(``start end;start end``) is read as its outer extent. Offsets are character offsets into the
``.txt`` (decoded as UTF-8), end exclusive, which is what BRAT and the MEDDOCAN scorer use.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from clinical.deid.span import PhiSpan

__all__ = ["BratDocument", "format_ann", "parse_ann", "read_corpus", "write_corpus"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BratDocument:
    """A ``.txt`` and its gold PHI spans (sorted by position)."""

    name: str
    text: str
    spans: tuple[PhiSpan, ...]


def parse_ann(ann: str) -> list[PhiSpan]:
    """The ``T`` lines of a ``.ann`` file as spans, sorted; other annotation kinds are ignored."""
    spans = []
    for number, line in enumerate(ann.splitlines(), start=1):
        if not line.startswith("T"):
            continue
        cells = line.split("\t")
        if len(cells) < 2:
            raise ValueError(f".ann line {number}: expected 'T<n><TAB>TYPE START END<TAB>text'")
        type_, _, offsets = cells[1].partition(" ")
        pieces = [p.split() for p in offsets.split(";")]
        try:
            start, end = int(pieces[0][0]), int(pieces[-1][-1])
        except (IndexError, ValueError):
            raise ValueError(f".ann line {number}: offsets must be 'START END' integers") from None
        spans.append(PhiSpan(start, end, type_, source="gold"))
    return sorted(spans)


def format_ann(text: str, spans: list[PhiSpan] | tuple[PhiSpan, ...]) -> str:
    """A ``.ann`` file for ``spans`` of ``text``; newlines inside a span's text become spaces.

    BRAT's third column repeats the span's text on one line, so a span crossing a line break is
    written with the break replaced (offsets are what tools read).
    """
    lines = []
    for number, span in enumerate(sorted(spans), start=1):
        surface = text[span.start:span.end].replace("\r", " ").replace("\n", " ")
        lines.append(f"T{number}\t{span.type} {span.start} {span.end}\t{surface}\n")
    return "".join(lines)


def write_corpus(documents: Iterable[BratDocument], directory: str | Path) -> Path:
    """``NAME.txt`` and ``NAME.ann`` for every document, in ``directory`` (created); read back by
    :func:`read_corpus` as they were."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    for document in documents:
        (folder / f"{document.name}.txt").write_text(document.text, encoding="utf-8", newline="")
        (folder / f"{document.name}.ann").write_text(format_ann(document.text, document.spans), encoding="utf-8")
    return folder


def read_corpus(directory: str | Path) -> list[BratDocument]:
    """Every ``NAME.txt`` of ``directory`` with the spans of ``NAME.ann`` (empty when absent)."""
    folder = Path(directory)
    if not folder.is_dir():
        raise FileNotFoundError(f"BRAT corpus folder {folder} does not exist")
    documents = []
    for txt in sorted(folder.glob("*.txt")):
        # newline="" keeps "\r\n" as two characters, as BRAT's offsets count them.
        with txt.open(encoding="utf-8", newline="") as handle:
            text = handle.read()
        ann = txt.with_suffix(".ann")
        spans = parse_ann(ann.read_text(encoding="utf-8")) if ann.exists() else []
        documents.append(BratDocument(txt.stem, text, tuple(spans)))
    logger.info("read %d documents with %d spans from %s", len(documents),
                sum(len(d.spans) for d in documents), folder)
    return documents
