"""Typed error responses: 422 naming the field, domain errors with their status, never a 500 body with data."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from backend.services.errors import DomainError

logger = logging.getLogger(__name__)


def _field_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pydantic errors without ``input`` and ``ctx``: those echo the rejected value, which may be PHI.

    Cross-field rules are checked on the whole record, so pydantic reports them at the record's
    location; their ``ctx.field`` says which field they are about, and that becomes the location.
    """
    out = []
    for err in errors:
        loc = list(err.get("loc", ()))
        ctx = err.get("ctx") or {}
        if isinstance(ctx.get("field"), str):
            loc += [int(p) if p.isdigit() else p for p in ctx["field"].replace("[", ".").replace("]", "").split(".")]
        msg = err.get("msg", "invalid value")
        if isinstance(ctx.get("field"), str):
            msg = msg.removeprefix(f"{ctx['field']}: ")
        out.append({"loc": loc, "field": ".".join(str(p) for p in loc[1:]) or None, "msg": msg, "type": err.get("type")})
    return out


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _field_errors(list(exc.errors()))}, status.HTTP_422_UNPROCESSABLE_CONTENT)

    @app.exception_handler(DomainError)
    async def domain(_request: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "code": exc.code}, exc.status_code)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # The exception text may quote patient data: log the type and the request id only.
        logger.error("unhandled %s in request %s", type(exc).__name__, getattr(request.state, "request_id", "-"))
        return JSONResponse({"detail": "internal error", "request_id": getattr(request.state, "request_id", None)}, 500)
