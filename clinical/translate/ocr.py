"""Tesseract OCR for scanned pages, through Debian's ``tesseract-ocr`` with its Spanish data.

Tesseract runs as a subprocess reading the page image from stdin and writing the text to stdout:
the scan of a clinical document is PHI, and pipes leave no temporary file on disk (pytesseract
writes the image and the text to temporary files). One thread per call (``OMP_THREAD_LIMIT=1``):
the server decides how many pages are read at once, not OpenMP.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import cache

__all__ = ["OcrError", "OcrUnavailable", "ocr_image"]

INSTALL_HINT = "apt-get install -y tesseract-ocr tesseract-ocr-spa"


class OcrUnavailable(RuntimeError):
    """Tesseract or its language data is not installed; the message says which Debian package to add."""


class OcrError(RuntimeError):
    """Tesseract failed on a page (the message holds its exit status, never the page's text)."""


def _tesseract() -> str:
    exe = shutil.which("tesseract")
    if exe is None:
        raise OcrUnavailable(f"scanned pages need Tesseract OCR, which is not installed: {INSTALL_HINT}")
    return exe


@cache
def _languages(exe: str) -> frozenset[str]:
    result = subprocess.run([exe, "--list-langs"], capture_output=True, text=True, timeout=30, check=False)
    # The first line is a header ("List of available languages in ...").
    return frozenset(line.strip() for line in result.stdout.splitlines()[1:] if line.strip())


def check_ocr(lang: str = "spa") -> None:
    """Raise :class:`OcrUnavailable` unless Tesseract and its ``lang`` data are installed."""
    exe = _tesseract()
    if lang not in _languages(exe):
        raise OcrUnavailable(f"Tesseract has no '{lang}' language data: apt-get install -y tesseract-ocr-{lang}")


def ocr_image(image: bytes, lang: str = "spa", timeout_s: float = 300) -> str:
    """The text Tesseract reads in ``image`` (PNG bytes), paragraphs separated by blank lines."""
    check_ocr(lang)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "OMP_THREAD_LIMIT": "1", "LC_ALL": "C.UTF-8"}
    try:
        result = subprocess.run([_tesseract(), "stdin", "stdout", "-l", lang, "--psm", "3"], input=image,
                                capture_output=True, timeout=timeout_s, env=env, check=False)
    except subprocess.TimeoutExpired:
        raise OcrError(f"Tesseract took longer than {timeout_s:.0f} s on one page") from None
    if result.returncode != 0:
        raise OcrError(f"Tesseract exited with status {result.returncode} on a page; is the page image valid?")
    return result.stdout.decode("utf-8", errors="replace").replace("\f", "")
