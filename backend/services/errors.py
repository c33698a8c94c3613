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
