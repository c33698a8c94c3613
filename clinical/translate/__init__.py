"""Translation of Spanish clinical documents into English with no PHI ever reaching a model.

    result = await translate_document(text, complete)   # complete(messages, attempt=) -> str
    result.text                                          # re-identified English

- :mod:`.chunking`: paragraphs packed into chunks that fit a token budget, never cutting a
  placeholder; whitespace, paragraph breaks and pages kept around each chunk verbatim.
- :mod:`.pipeline`: de-identify once, translate chunk by chunk with glossary hints, check every
  placeholder came back exactly once (one retry), re-identify.
- :mod:`.cache_key`: what a cached chunk translation is keyed by (model, contract, glossary).
- :mod:`.protect`, :mod:`.unknown_words`, :mod:`.polish`: what the rule-based engine (Apertium)
  needs around it: placeholders and terms kept from it, English for the words it does not know,
  English number and article conventions.
- :mod:`.layout`: pages, paragraphs and headings of the text form.
- :mod:`.pdf_reader` / :mod:`.pdf_writer` / :mod:`.ocr`: PDF in (text layer, Tesseract for scans)
  and PDF out; they need the ``serve`` extra (pdfplumber, fpdf2) and are not imported here.

No FastAPI here: the backend (``backend/services/translation/``) supplies ``complete`` from its
engines and the cache from its database.
"""

from __future__ import annotations

from clinical.translate.cache_key import cache_key, glossary_version
from clinical.translate.chunking import PAGE_BREAK, Chunk, ChunkingError, chunk_text, estimate_tokens
from clinical.translate.pipeline import (
    DEFAULT_BUDGET,
    Answer,
    ChunkCache,
    ChunkTranslationError,
    Complete,
    TranslationError,
    TranslationResult,
    describe_report,
    translate_deidentified,
    translate_document,
)

__all__ = [
    "DEFAULT_BUDGET",
    "PAGE_BREAK",
    "Answer",
    "Chunk",
    "ChunkCache",
    "ChunkTranslationError",
    "ChunkingError",
    "Complete",
    "TranslationError",
    "TranslationResult",
    "cache_key",
    "chunk_text",
    "describe_report",
    "estimate_tokens",
    "glossary_version",
    "translate_deidentified",
    "translate_document",
]
