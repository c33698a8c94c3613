"""Typed error responses: 422 naming the field, domain errors with their status, never a 500 body with data."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from backend.services.errors import DomainError
from clinical.record import field_errors

logger = logging.getLogger(__name__)


def _field_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Errors naming their field (``loc`` from "body" on, and ``field`` without it), values left out."""
    return [{**e, "field": ".".join(str(p) for p in e["loc"][1:]) or None} for e in field_errors(errors)]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _field_errors(list(exc.errors()))}, status.HTTP_422_UNPROCESSABLE_CONTENT)

    @app.exception_handler(DomainError)
    async def domain(_request: Request, exc: DomainError) -> JSONResponse:
        # 503 is temporary (engines busy or down): tell clients when to retry instead of hammering.
        headers = {"Retry-After": "5"} if exc.status_code == 503 else None
        return JSONResponse({"detail": str(exc), "code": exc.code}, exc.status_code, headers=headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # The exception text may quote patient data: log the type and the request id only.
        logger.error("unhandled %s in request %s", type(exc).__name__, getattr(request.state, "request_id", "-"))
        return JSONResponse({"detail": "internal error", "request_id": getattr(request.state, "request_id", None)}, 500)
