"""ASGI middleware: request ids, an access log and request metrics without query strings, a body-size limit."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid

from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.core import metrics

logger = logging.getLogger("backend.access")

UNMATCHED = "<unmatched>"


def route_template(scope: Scope) -> str:
    """The matched route's template (``/api/v1/documents/{document_id}``), never the requested path.

    A path can hold a patient's identifier; a template cannot. Files under a mount (the webapp,
    ``/``) are one label, and a path that matched no route is ``<unmatched>``.
    """
    route = scope.get("route")
    if isinstance(route, Mount):
        return f"{route.path}/{{path}}"
    return getattr(route, "path", None) or UNMATCHED


_REQUEST_ID = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}")


def _client_request_id(value: str) -> str | None:
    """An EHR's own request id, kept only when it is a UUID: anything freer (a RUT, a name, an
    episode number) would carry patient data into the logs and the audit trail."""
    return value.lower() if _REQUEST_ID.fullmatch(value) else None


class RequestContextMiddleware:
    """Gives every request an id (``X-Request-ID``), logs method, route, status and time, and counts
    it in ``alta_http_requests`` / ``alta_http_request_seconds``.

    The route template (``/api/v1/documents/{document_id}``) is logged and used as the metrics label
    instead of the URL: paths and query strings carry patient identifiers.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = _client_request_id(incoming) or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            path = route_template(scope)
            elapsed = time.perf_counter() - started
            metrics.request(path, scope["method"], status, elapsed)
            logger.info("%s %s %s %.1fms request_id=%s", scope["method"], path, status, elapsed * 1000, request_id)


class BodySizeLimitMiddleware:
    """Answers 413 to request bodies over ``max_bytes``, declared or streamed.

    ``uploads`` maps a path to a larger limit of its own (a scanned PDF to translate is several
    megabytes; a hospital stay is a few kilobytes). A streamed body is cut off where it passes the
    limit: the 413 is sent from here and the app is told the client went away (FastAPI would turn
    an exception raised while it reads the body into a 400).
    """

    def __init__(self, app: ASGIApp, max_bytes: int, uploads: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.uploads = uploads or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.uploads.get(scope["path"].rstrip("/"), self.max_bytes)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self._reject(scope, send, limit)
            return
        received = 0
        rejected = started = False

        async def counting_receive() -> Message:
            nonlocal received, rejected
            if rejected:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    rejected = True
                    if not started:
                        await self._reject(scope, send, limit)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if rejected:
                return  # the 413 has been sent; whatever the app answers to the cut body is dropped
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counting_receive, guarded_send)

    async def _reject(self, scope: Scope, send: Send, limit: int) -> None:
        setting = "ALTA_MAX_UPLOAD_BYTES" if limit != self.max_bytes else "ALTA_MAX_BODY_BYTES"
        message = f"request body over {limit} bytes; send less or raise {setting}"
        if scope["path"].startswith("/v1/"):  # the OpenAI-compatible surface answers in OpenAI's error shape
            error = {"error": {"message": message, "type": "invalid_request_error", "param": None,
                               "code": "request_too_large"}}
        else:
            error = {"detail": message}
        body = json.dumps(error).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
