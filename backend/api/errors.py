"""Typed error responses: 422 naming the field, domain errors with their status, never a 500 body with data."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from backend.api.deps import refused_credentials
from backend.api.openai_errors import openai_error
from backend.services.errors import DomainError
from clinical.record import field_errors


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


RETRY_AFTER_503_S = 5
"""Retry-After for a 503 whose error does not say when (no engine healthy): engines come back in seconds."""


def retry_after_headers(exc: DomainError) -> dict[str, str] | None:
    """``Retry-After`` for an error that is temporary (429 rate limit, 503 busy or no engine), else None.

    Temporary errors tell clients when to retry instead of hammering: the error's own
    ``retry_after_s`` when it knows it, :data:`RETRY_AFTER_503_S` for any other 503. Both error shapes
    (Alta's and OpenAI's on /v1) take their header from here.
    """
    seconds = exc.retry_after_s if exc.retry_after_s is not None else \
        RETRY_AFTER_503_S if exc.status_code == 503 else None
    return {"Retry-After": str(seconds)} if seconds is not None else None


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for a router's error statuses, so clients (and schemathesis) know them."""
    return {code: {"model": ErrorOut, "description": _ERRORS[code],
                   **({"headers": _RETRY_AFTER} if code in (429, 503) else {})} for code in codes}


UNKNOWN_FIELD = "a field this object does not have (its name is not repeated: it may be patient data); " \
                "the schema (GET /openapi.json) lists the fields it takes"


def schema_names(app: FastAPI) -> frozenset[str]:
    """Every property name of the app's OpenAPI schema: names Alta wrote, safe to repeat."""
    names = getattr(app.state, "schema_names", None)
    if names is None:
        found: set[str] = set()

        def walk(node: Any) -> None:
            if isinstance(node, dict):
                if isinstance(node.get("properties"), dict):
                    found.update(node["properties"])
                for value in node.values():
                    walk(value)
            elif isinstance(node, list):
                for value in node:
                    walk(value)

        walk(app.openapi())
        names = app.state.schema_names = frozenset(found)
    return names


def redacted_errors(errors: list[dict[str, Any]], known: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """:func:`clinical.record.field_errors` (no rejected values), and no unknown key either: a key the
    schema does not have is the client's text, so its error names the object that holds it, unless
    the key is one of ``known`` (a name Alta itself uses elsewhere, e.g. ``engine`` sent to translations)."""
    out = []
    for error in field_errors(errors):
        if error["type"] == "extra_forbidden" and not (error["loc"] and str(error["loc"][-1]) in known):
            error = {**error, "loc": error["loc"][:-1], "msg": UNKNOWN_FIELD}
        out.append(error)
    return out


def _field_errors(errors: list[dict[str, Any]], known: frozenset[str]) -> list[dict[str, Any]]:
    """Errors naming their field (``loc`` from "body" on, and ``field`` without it), values left out."""
    return [{**e, "field": ".".join(str(p) for p in e["loc"][1:]) or None} for e in redacted_errors(errors, known)]


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
    async def validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        refused = await run_in_threadpool(refused_credentials, request)  # 401 before 422
        if refused is not None:
            return JSONResponse({"detail": refused.detail}, refused.status_code, headers=refused.headers)
        errors = _field_errors(list(exc.errors()), schema_names(request.app))
        return JSONResponse({"detail": errors}, status.HTTP_422_UNPROCESSABLE_CONTENT)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        # FastAPI raises some before a route's own error handling runs (a body that is not UTF-8
        # JSON text is a 400): on /v1 they too take OpenAI's error shape.
        if request.url.path.startswith("/v1/"):
            return openai_error(exc.status_code, str(exc.detail), headers=exc.headers)
        return await http_exception_handler(request, exc)

    @app.exception_handler(DomainError)
    async def domain(_request: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "code": exc.code}, exc.status_code, headers=retry_after_headers(exc))
    # Unexpected exceptions are answered by backend.api.middleware.UnhandledErrorMiddleware, inside
    # the security headers' middleware: an exception handler for Exception would run in Starlette's
    # outermost ServerErrorMiddleware, whose 500 carries none of those headers and closes the connection.
