"""Reading a PDF's text page by page: its text layer (pdfplumber), Tesseract OCR where it has none.

pdfplumber gives every line with its position and fonts, which is what turns a PDF's lines back
into paragraphs (a vertical gap starts one, a line ending short of the margin keeps its break) and
headings (bold or larger lines, put on their own). Pages with no text layer (scans) are rendered
with pypdfium2, which pdfplumber already uses for its page images, so no Debian poppler and no
temporary files; then read by Tesseract (:mod:`clinical.translate.ocr`).

pdfplumber, pdfminer.six and pypdfium2 are imported here only: the rest of ``clinical`` does not
need them.
"""

from __future__ import annotations

import io
import logging
import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

import pdfplumber
from pdfminer.pdfdocument import PDFPasswordIncorrect
from pdfminer.pdftypes import PDFException
from pdfminer.psexceptions import PSException
from pdfplumber.utils.exceptions import PdfminerException
from pypdfium2 import PdfiumError

from clinical.translate.layout import HEADING_MAX_CHARS, is_heading
from clinical.translate.ocr import ocr_image

__all__ = ["PdfError", "PdfPage", "ocr_missing_pages", "read_pdf"]

logger = logging.getLogger(__name__)

_PDF_ERRORS = (PdfminerException, PDFException, PSException)
_LIST_ITEM = re.compile(r"^\s*(?:[-•*·]|\d{1,2}[.)]|[a-z][.)])\s")
# A page whose text layer has fewer letters and digits than this, but images, is a scan with a stamp.
_MIN_TEXT_LAYER = 20


class PdfError(ValueError):
    """The upload is not a PDF Alta can read; the message says what to send instead (never its content)."""


@dataclass(frozen=True)
class PdfPage:
    """One page's text: paragraphs separated by blank lines. ``source`` says where it came from;
    ``"pending"`` pages have no text layer and wait for OCR."""

    number: int
    text: str
    source: Literal["text", "ocr", "pending"]


def _open(data: bytes) -> Any:
    if b"%PDF-" not in data[:1024]:
        raise PdfError("the file is not a PDF (no %PDF- header); send a PDF document")
    try:
        return pdfplumber.open(io.BytesIO(data))
    except PdfminerException as exc:
        if exc.args and isinstance(exc.args[0], PDFPasswordIncorrect):
            raise PdfError("the PDF is password-protected; send an unencrypted copy") from None
        raise PdfError("the PDF is damaged or not a PDF pdfplumber can read; export it again") from None


def _is_bold(fontname: str) -> bool:
    name = fontname.lower()
    return any(w in name for w in ("bold", "black", "heavy", "semibold"))


def _line_size(line: dict[str, Any]) -> float:
    return statistics.median(c["size"] for c in line["chars"]) if line["chars"] else 0.0


def _line_is_heading(line: dict[str, Any], body_size: float) -> bool:
    text = line["text"].strip()
    if not text or len(text) > HEADING_MAX_CHARS:
        return False
    glyphs = [c for c in line["chars"] if not c["text"].isspace()]
    bold = bool(glyphs) and all(_is_bold(c.get("fontname", "")) for c in glyphs)
    return bold or _line_size(line) >= 1.15 * body_size or is_heading(text)


def _paragraphs(lines: list[dict[str, Any]]) -> str:
    """Lines (top to bottom) back into paragraphs: a line wrapped at the margin joins the next with a
    space, a short line keeps its line break, a vertical gap or a heading starts a new paragraph."""
    if not lines:
        return ""
    body_size = statistics.median(_line_size(line) for line in lines)
    right = max(line["x1"] for line in lines)
    left = min(line["x0"] for line in lines)
    paragraphs: list[str] = []
    current = ""
    previous: dict[str, Any] | None = None
    previous_heading = False
    for line in lines:
        text = line["text"].strip()
        if not text:
            continue
        heading = _line_is_heading(line, body_size)
        height = max(previous["bottom"] - previous["top"], 1.0) if previous else 0.0
        gap = line["top"] - previous["bottom"] if previous else 0.0
        if previous is None or heading or previous_heading or gap > 0.7 * height:
            if current:
                paragraphs.append(current)
            current = text
        else:
            wrapped = previous["x1"] >= left + 0.85 * (right - left) and not _LIST_ITEM.match(text)
            current += (" " if wrapped else "\n") + text
        previous, previous_heading = line, heading
    paragraphs.append(current)
    return "\n\n".join(paragraphs)


def _page_text(page: Any) -> str:
    lines = page.dedupe_chars().extract_text_lines(return_chars=True, strip=True)
    return _paragraphs(sorted(lines, key=lambda line: (round(line["top"]), line["x0"])))


def _needs_ocr(page: Any, text: str) -> bool:
    visible = sum(c.isalnum() for c in text)
    return visible == 0 or (visible < _MIN_TEXT_LAYER and bool(page.images))


def read_pdf(data: bytes, max_pages: int) -> list[PdfPage]:
    """Every page's text layer, in page order; pages without one come back ``pending`` for OCR.

    Raises :class:`PdfError` for a file that is not a readable PDF, is encrypted, has no pages or
    more than ``max_pages``.
    """
    with _open(data) as pdf:
        try:
            count = len(pdf.pages)
            if count == 0:
                raise PdfError("the PDF has no pages")
            if count > max_pages:
                raise PdfError(f"the PDF has {count} pages; at most {max_pages} per request "
                               "(ALTA_TRANSLATION_MAX_PAGES): split the document")
            pages = []
            for number, page in enumerate(pdf.pages, start=1):
                text = _page_text(page)
                pending = _needs_ocr(page, text)
                pages.append(PdfPage(number, "" if pending else text, "pending" if pending else "text"))
        except _PDF_ERRORS:
            raise PdfError("the PDF is damaged (a page could not be read); export it again") from None
    logger.info("read a PDF of %d pages, %d without a text layer", count, sum(p.source == "pending" for p in pages))
    return pages


def _ocr_paragraphs(text: str) -> str:
    """Tesseract's paragraphs, with the lines it wrapped joined again and headings on their own."""
    paragraphs = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = [line.strip() for line in block.splitlines() if line.strip()]
        if not lines:
            continue
        longest = max(len(line) for line in lines)
        current = ""
        for i, line in enumerate(lines):
            if is_heading(line) and len(lines) > 1:
                if current:
                    paragraphs.append(current)
                paragraphs.append(line)
                current = ""
                continue
            wrapped = i > 0 and len(lines[i - 1]) >= 0.75 * longest and not _LIST_ITEM.match(line)
            current = line if not current else current + (" " if wrapped else "\n") + line
        if current:
            paragraphs.append(current)
    return "\n\n".join(paragraphs)


def _render_png(page: Any, dpi: int) -> bytes:
    image = page.to_image(resolution=dpi).original.convert("L")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def ocr_missing_pages(data: bytes, pages: list[PdfPage], lang: str = "spa", dpi: int = 300,
                      on_page: Callable[[int], None] | None = None) -> list[PdfPage]:
    """``pages`` with every ``pending`` page rendered at ``dpi`` and read by Tesseract (``lang``).

    ``on_page(number)`` is called after each page read, for progress. Raises
    :class:`clinical.translate.ocr.OcrUnavailable` when Tesseract or its language is missing.
    """
    if not any(p.source == "pending" for p in pages):
        return pages
    out = []
    with _open(data) as pdf:
        for page in pages:
            if page.source != "pending":
                out.append(page)
                continue
            try:
                png = _render_png(pdf.pages[page.number - 1], dpi)
            except (*_PDF_ERRORS, PdfiumError):
                raise PdfError(f"page {page.number} of the PDF could not be rendered for OCR; export it again") from None
            out.append(replace(page, text=_ocr_paragraphs(ocr_image(png, lang)), source="ocr"))
            if on_page is not None:
                on_page(page.number)
    logger.info("OCR read %d pages", sum(p.source == "ocr" for p in out))
    return out
