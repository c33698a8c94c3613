"""A document's text layout: pages (``\\f``), paragraphs (blank lines) and headings.

The text form is what the pipeline translates and what the PDF writer lays out, so both sides
agree on one convention: pages are separated by a form feed, paragraphs by a blank line, and a
heading is a paragraph of one short line that is written in capitals ("DIAGNÓSTICOS DE EGRESO",
"DISCHARGE DIAGNOSES") or ends with a colon ("Antecedentes:").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from clinical.translate.chunking import PAGE_BREAK

__all__ = ["Block", "is_heading", "join_pages", "page_blocks", "split_pages"]

_BLANK_LINE = re.compile(r"\n[^\S\n]*\n\s*")
HEADING_MAX_CHARS = 80


@dataclass(frozen=True)
class Block:
    """A paragraph of a page, and whether it is a heading."""

    text: str
    heading: bool


def is_heading(paragraph: str) -> bool:
    """One line of at most 80 characters, in capitals (at least 3 letters, none lowercase) or
    ending with a colon."""
    line = paragraph.strip()
    if not line or "\n" in line or len(line) > HEADING_MAX_CHARS:
        return False
    letters = [c for c in line if c.isalpha()]
    shouting = len(letters) >= 3 and not any(c.islower() for c in letters)
    return shouting or (line.endswith(":") and len(letters) >= 3)


def split_pages(text: str) -> list[str]:
    return text.split(PAGE_BREAK)


def join_pages(pages: list[str]) -> str:
    return PAGE_BREAK.join(pages)


def page_blocks(page: str) -> list[Block]:
    """The paragraphs of one page, in order, with headings marked.

    A heading line directly above its text ("MOTIVO DE INGRESO\nPaciente de ...") is a heading
    block of its own, followed by the rest of the paragraph.
    """
    blocks = []
    for paragraph in (p.strip() for p in _BLANK_LINE.split(page)):
        if not paragraph:
            continue
        first, _, rest = paragraph.partition("\n")
        if rest.strip() and is_heading(first):
            blocks += [Block(first.strip(), True), Block(rest.strip(), False)]
        else:
            blocks.append(Block(paragraph, is_heading(paragraph)))
    return blocks
