"""OpenAI's error shape, shared by the /v1 routes and the app's own error handlers (which answer
/v1 paths in it too): its own module, so neither imports the other."""

from __future__ import annotations

from fastapi.responses import JSONResponse
from pydantic import BaseModel


class OpenAIError(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class OpenAIErrorOut(BaseModel):
    error: OpenAIError


_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                404: "not_found_error", 409: "conflict_error", 413: "invalid_request_error",
                422: "invalid_request_error", 429: "rate_limit_error"}


def openai_error(status: int, message: str, *, param: str | None = None, code: str | None = None,
                 headers: dict[str, str] | None = None) -> JSONResponse:
    body = OpenAIErrorOut(error=OpenAIError(message=message, type=_ERROR_TYPES.get(status, "server_error"),
                                            param=param, code=code))
    return JSONResponse(body.model_dump(), status, headers=headers)
