"""Domain errors the routes turn into typed HTTP responses."""

from __future__ import annotations


class DomainError(Exception):
    status_code = 400
    code = "domain_error"
    retry_after_s: int | None = None  # for 429/503: when the client should try again (Retry-After)


class DocumentNotFound(DomainError):
    status_code = 404
    code = "document_not_found"


class VersionConflict(DomainError):
    """The client edited or signed a version that is no longer the current one."""

    status_code = 409
    code = "version_conflict"


class DocumentLocked(DomainError):
    status_code = 409
    code = "document_signed"


class UnresolvedFindings(DomainError):
    """Signing a text that the output checks flag needs the clinician's explicit acknowledgement."""

    status_code = 409
    code = "unresolved_findings"


class NoEngineAvailable(DomainError):
    status_code = 503
    code = "no_engine_available"


# --- translation ---------------------------------------------------------------------------------
# Messages name settings and limits, never the document's text. The page shows its own Spanish
# message for each code (webapp/src/translation_errors.js); the administrator's remedy is in the
# README and the server log.


class NoTranslationEngine(DomainError):
    """No configured engine does translation (Apertium, the floor, is not installed or not configured)."""

    status_code = 503
    code = "no_translation_engine"


class TranslationFailed(DomainError):
    """The engines' answers could not be used (placeholders lost, empty, cut short); nothing was returned."""

    status_code = 502

    def __init__(self, message: str, code: str = "translation_failed", status_code: int = 502) -> None:
        super().__init__(message)
        self.code = code
        self.status_code = status_code


class InvalidDocument(DomainError):
    """The document has no text to translate, or too much; ``field`` and ``kind`` say which (never its content)."""

    status_code = 422
    code = "invalid_document"

    def __init__(self, message: str, *, field: str = "text", kind: str = "invalid") -> None:
        super().__init__(message)
        self.field = field
        self.kind = kind


class OcrMissing(DomainError):
    """A PDF has scanned pages and Tesseract (or its Spanish data) is not installed on this server."""

    status_code = 503
    code = "ocr_unavailable"


class PdfOutputUnavailable(DomainError):
    """The PDF writer's font is not installed on this server."""

    status_code = 503
    code = "pdf_output_unavailable"


class UnsupportedMediaType(DomainError):
    status_code = 415
    code = "unsupported_media_type"


class TranslationNotFound(DomainError):
    status_code = 404
    code = "translation_not_found"


class TranslationNotReady(DomainError):
    status_code = 409
    code = "translation_not_ready"
