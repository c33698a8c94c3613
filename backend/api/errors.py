"""Typed error responses: 422 naming the field, domain errors with their status, never a 500 body with data."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from backend.services.errors import DomainError
from clinical.record import field_errors

logger = logging.getLogger(__name__)


class ErrorOut(BaseModel):
    """Every error but a 422: what went wrong and what to change, and a stable code for domain errors."""

    detail: str
    code: str | None = Field(None, description="stable code a client can branch on, e.g. version_conflict")


_ERRORS = {
    400: "the body is not JSON text (e.g. not UTF-8)",
    401: "missing, invalid or revoked API key",
    403: "the API key lacks the scope this route needs",
    404: "nothing with the id in the path",
    409: "a stale version, a signed document, or findings not acknowledged (see code)",
    413: "the body is over ALTA_MAX_BODY_BYTES",
    429: "this API key is over its rate limit (ALTA_RATE_LIMIT_PER_MINUTE); retry after Retry-After seconds",
    503: "every generation slot is busy and the queue is full, or no engine is healthy; retry after Retry-After",
}
_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "integer"}}}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for a router's error statuses, so clients (and schemathesis) know them."""
    return {code: {"model": ErrorOut, "description": _ERRORS[code],
                   **({"headers": _RETRY_AFTER} if code in (429, 503) else {})} for code in codes}


def _field_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Errors naming their field (``loc`` from "body" on, and ``field`` without it), values left out."""
    return [{**e, "field": ".".join(str(p) for p in e["loc"][1:]) or None} for e in field_errors(errors)]


def _error_statuses(method: str, operation: dict[str, Any]) -> list[int]:
    statuses = []
    if operation.get("security"):
        statuses += [401, 403]
    if any(p.get("in") == "path" for p in operation.get("parameters", [])):
        statuses.append(404)
    if method in ("post", "put", "patch"):
        statuses += [400, 413]
    return statuses


def document_errors(app: FastAPI) -> None:
    """Make the OpenAPI schema list the errors every operation can answer with, from what it has: an
    API key (401, 403), a path parameter (404), a body (400 for bytes that are not JSON text, 413, and
    422 where a route reads its body itself). An operation's own entry for a status is kept.

    Statuses a route's logic adds (409; 429 and 503 of admission control) are declared on the route
    with :func:`error_responses`.
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()  # cached by FastAPI; the additions below are idempotent
        schema.setdefault("components", {}).setdefault("schemas", {}).setdefault(
            "ErrorOut", ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}"))
        for operations in schema.get("paths", {}).values():
            for method, operation in operations.items():
                responses = operation.setdefault("responses", {})
                for code in _error_statuses(method, operation):
                    responses.setdefault(str(code), {
                        "description": _ERRORS[code],
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}})
                if "requestBody" in operation and "422" not in responses:
                    responses["422"] = {"description": "Validation Error", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/HTTPValidationError"}}}}
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _field_errors(list(exc.errors()))}, status.HTTP_422_UNPROCESSABLE_CONTENT)

    @app.exception_handler(DomainError)
    async def domain(_request: Request, exc: DomainError) -> JSONResponse:
        # 429 and 503 are temporary (a rate limit, engines busy or down): tell clients when to retry
        # instead of hammering.
        retry_after = exc.retry_after_s if exc.retry_after_s is not None else 5 if exc.status_code == 503 else None
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        return JSONResponse({"detail": str(exc), "code": exc.code}, exc.status_code, headers=headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # The exception text may quote patient data: log the type and the request id only.
        logger.error("unhandled %s in request %s", type(exc).__name__, getattr(request.state, "request_id", "-"))
        return JSONResponse({"detail": "internal error", "request_id": getattr(request.state, "request_id", None)}, 500)
