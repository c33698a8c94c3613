"""Writing a translation as a PDF with fpdf2: one section per source page, in order, headings in bold.

Fonts are DejaVu Sans regular and bold from Debian's ``fonts-dejavu-core``
(``/usr/share/fonts/truetype/dejavu``): TrueType with full Latin coverage, so names keep their
accents (the PDF core fonts are Latin-1 only and cannot embed). Every page says it is a machine
translation and which model wrote it; nothing else is added to the document's text.
"""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from clinical.translate.layout import page_blocks, split_pages

__all__ = ["DEFAULT_FONT_DIR", "FONT_FILES", "FontMissing", "render_pdf"]

DEFAULT_FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}
FAMILY = "DejaVu"


class FontMissing(RuntimeError):
    """The TrueType font the PDF needs is not installed; the message says how to install it."""


class _TranslationPdf(FPDF):
    def __init__(self, footer_text: str) -> None:
        super().__init__(format="A4")
        self.footer_text = footer_text

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font(FAMILY, "", 7.5)
        self.set_text_color(110)
        self.multi_cell(0, 3.5, self.footer_text, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.cell(0, 3.5, f"Page {self.page_no()}/{{nb}}", align="C")
        self.set_text_color(0)


def _fonts(font_dir: Path) -> dict[str, Path]:
    paths = {style: font_dir / name for style, name in FONT_FILES.items()}
    missing = [p.name for p in paths.values() if not p.is_file()]
    if missing:
        raise FontMissing(f"{', '.join(missing)} not found in {font_dir}: apt-get install -y fonts-dejavu-core, "
                          "or set ALTA_TRANSLATION_FONT_DIR to a folder holding them")
    return paths


def render_pdf(text: str, *, footer: str, font_dir: Path = DEFAULT_FONT_DIR) -> bytes:
    """The translated ``text`` (pages split by ``\\f``, paragraphs by blank lines) as PDF bytes.

    Each source page starts a new PDF page (a long one flows onto more) and is labelled with its
    number, so a reader can put the translation next to the original.
    """
    pdf = _TranslationPdf(footer)
    for style, path in _fonts(font_dir).items():
        pdf.add_font(FAMILY, style, str(path))
    pdf.set_creator("Alta")
    pdf.set_title("Translation")
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.set_margins(20, 18, 20)
    for number, page in enumerate(split_pages(text), start=1):
        pdf.add_page()
        pdf.set_font(FAMILY, "", 7.5)
        pdf.set_text_color(110)
        pdf.cell(0, 4, f"Original page {number}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_text_color(0)
        pdf.ln(2)
        for block in page_blocks(page):
            if block.heading:
                pdf.set_font(FAMILY, "B", 11.5)
                pdf.multi_cell(0, 6.5, block.text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
                pdf.ln(1)
            else:
                pdf.set_font(FAMILY, "", 10.5)
                pdf.multi_cell(0, 5.5, block.text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
                pdf.ln(2.5)
    return bytes(pdf.output())
