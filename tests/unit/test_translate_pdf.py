"""PDF in (text layer with pdfplumber, scans through Debian's Tesseract) and PDF out (fpdf2, read back with pypdf)."""

from __future__ import annotations

import io

import pdfplumber
import pytest
from pypdf import PdfReader, PdfWriter

from clinical.translate.layout import is_heading, page_blocks
from clinical.translate.ocr import OcrUnavailable, check_ocr, ocr_image
from clinical.translate.pdf_reader import PdfError, ocr_missing_pages, read_pdf
from clinical.translate.pdf_writer import FontMissing, render_pdf
from tests.support.translation import image_pdf, text_pdf

LONG = ("Paciente de 67 años con antecedentes de hipertensión arterial y diabetes mellitus tipo 2 que ingresa "
        "por neumonía adquirida en la comunidad, con fiebre y tos productiva de cuatro días de evolución.")


def test_text_layer_comes_back_as_paragraphs_and_headings_per_page() -> None:
    data = text_pdf([[("h", "EPICRISIS"), ("p", LONG), ("p", "Se indica paracetamol 1 g cada 8 horas.")],
                     [("h", "Indicaciones al alta"), ("p", "Control en CESFAM en 7 días.")]])
    pages = read_pdf(data, max_pages=10)
    assert [(p.number, p.source) for p in pages] == [(1, "text"), (2, "text")]
    assert pages[0].text == f"EPICRISIS\n\n{LONG}\n\nSe indica paracetamol 1 g cada 8 horas."
    # a bold heading is a paragraph of its own even when it is not in capitals
    assert pages[1].text == "Indicaciones al alta\n\nControl en CESFAM en 7 días."


@pytest.mark.parametrize(("data", "message"), [
    (b"hello, not a pdf", "not a PDF"),
    (b"%PDF-1.7\n garbage with no objects", "damaged"),
])
def test_files_that_are_not_readable_pdfs_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(PdfError, match=message):
        read_pdf(data, max_pages=10)


def test_encrypted_and_oversized_pdfs_are_refused_with_what_to_do() -> None:
    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    writer.encrypt("secret")
    out = io.BytesIO()
    writer.write(out)
    with pytest.raises(PdfError, match="password-protected; send an unencrypted copy"):
        read_pdf(out.getvalue(), max_pages=10)
    three = text_pdf([[("p", "uno")], [("p", "dos")], [("p", "tres")]])
    with pytest.raises(PdfError, match="3 pages; at most 2 .*ALTA_TRANSLATION_MAX_PAGES"):
        read_pdf(three, max_pages=2)


def test_a_scanned_page_is_read_by_tesseract_in_spanish() -> None:
    data = image_pdf(["EPICRISIS", "", "Paciente de 67 años que ingresa por neumonía.",
                      "Se indica paracetamol 1 g cada 8 horas.", "", "INDICACIONES", "", "Control en 7 días."])
    pages = read_pdf(data, max_pages=5)
    assert [(p.source, p.text) for p in pages] == [("pending", "")]
    seen: list[int] = []
    (page,) = ocr_missing_pages(data, pages, "spa", 300, seen.append)
    assert page.source == "ocr" and seen == [1]
    paragraphs = page.text.split("\n\n")
    assert paragraphs[0] == "EPICRISIS" and "INDICACIONES" in paragraphs
    for word in ("Paciente", "años", "neumonía", "paracetamol", "horas", "Control", "días"):
        assert word in page.text


def test_ocr_says_which_debian_package_is_missing(tmp_path, monkeypatch) -> None:
    with pytest.raises(OcrUnavailable, match="apt-get install -y tesseract-ocr-xx"):
        check_ocr("xx")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(OcrUnavailable, match="apt-get install -y tesseract-ocr tesseract-ocr-spa"):
        ocr_image(b"\x89PNG", "spa")


def test_pdf_out_keeps_page_order_headings_and_accents() -> None:
    text = ("DISCHARGE SUMMARY\n\nName: Marcela Soto Aravena.\n\n" + LONG + "\f"
            "INSTRUCTIONS\n\nFollow-up at the CESFAM in 7 days.\n- omeprazole 20 mg a day\n- rest")
    data = render_pdf(text, footer="Machine translation (test)")
    reader = PdfReader(io.BytesIO(data))
    pages = [p.extract_text() for p in reader.pages]
    assert len(pages) == 2
    assert "Original page 1" in pages[0] and "Marcela Soto Aravena" in pages[0] and "neumonía" in pages[0]
    assert "Original page 2" in pages[1] and "INSTRUCTIONS" in pages[1] and "omeprazole 20 mg a day" in pages[1]
    assert "Machine translation (test)" in pages[1] and "Page 2/2" in pages[1]
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        fonts = {w["text"]: w["fontname"] for w in pdf.pages[1].extract_words(extra_attrs=["fontname"])}
    assert "Bold" in fonts["INSTRUCTIONS"] and "Bold" not in fonts["Follow-up"]


def test_a_long_page_flows_onto_more_pages_in_order() -> None:
    data = render_pdf("\n\n".join(f"Paragraph {i}. {LONG}" for i in range(60)) + "\fLAST PAGE", footer="t")
    pages = [p.extract_text() for p in PdfReader(io.BytesIO(data)).pages]
    assert len(pages) > 3 and "Original page 2" in pages[-1] and "LAST PAGE" in pages[-1]
    assert pages[0].index("Paragraph 0.") < pages[0].index("Paragraph 1.")


def test_missing_font_names_the_debian_package(tmp_path) -> None:
    with pytest.raises(FontMissing, match="apt-get install -y fonts-dejavu-core"):
        render_pdf("x", footer="t", font_dir=tmp_path)


@pytest.mark.parametrize(("paragraph", "heading"), [
    ("DIAGNÓSTICOS DE EGRESO", True), ("Antecedentes:", True), ("DISCHARGE DIAGNOSES", True),
    ("HTA", True), ("Paciente con HTA.", False), ("EPICRISIS\nsegunda línea", False), ("12:", False),
    ("A" * 81, False),
])
def test_headings(paragraph: str, heading: bool) -> None:
    assert is_heading(paragraph) is heading


def test_page_blocks_mark_headings() -> None:
    blocks = page_blocks("EVOLUCIÓN\n\nAfebril.\n \nIndicaciones:\n\nMOTIVO DE INGRESO\nPaciente de 67 años.\nSin alergias.")
    assert [(b.text, b.heading) for b in blocks] == [
        ("EVOLUCIÓN", True), ("Afebril.", False), ("Indicaciones:", True), ("MOTIVO DE INGRESO", True),
        ("Paciente de 67 años.\nSin alergias.", False)]
