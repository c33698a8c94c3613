"""ASGI middleware: request ids, an access log and request metrics without query strings, a body-size limit
and a body-read deadline, 500s that keep the security headers and the connection, and ``Allow`` from the routes."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from collections.abc import Iterator

from sqlalchemy.exc import OperationalError
from starlette.requests import ClientDisconnect
from starlette.routing import BaseRoute, Match, Mount
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


def _json_response(status: int, payload: object, headers: list[tuple[bytes, bytes]] | None = None
                   ) -> tuple[Message, Message]:
    body = json.dumps(payload).encode()
    start = {"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *(headers or [])]}
    return start, {"type": "http.response.body", "body": body}


class UnhandledErrorMiddleware:
    """Answers an unexpected exception with a 500 that names the request id and nothing else.

    It sits inside the security headers' and request id's middleware, so the 500 carries both, and
    it answers instead of re-raising, so the server neither logs a traceback (its text can quote
    patient data) nor drops the connection. A client that went away mid-body is no error at all.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except ClientDisconnect:
            logger.info("%s %s: the client went away before its body was read", scope["method"],
                        route_template(scope))
        except OperationalError as exc:
            # The database is down, restarting or locked past busy_timeout: temporary, so a 503 with
            # Retry-After (with an Idempotency-Key the retry cannot store a document twice).
            request_id = scope.get("state", {}).get("request_id")
            logging.getLogger("backend.api.errors").error("database unavailable (%s) in request %s",
                                                          type(exc.orig).__name__, request_id or "-")
            if started:
                return
            for message in _json_response(503, {"detail": "the database is unavailable; retry after Retry-After "
                                                          "seconds", "code": "database_unavailable",
                                                "request_id": request_id}, [(b"retry-after", b"5")]):
                await send(message)
        except Exception as exc:  # noqa: BLE001 - the last line: answer 500 rather than crash the connection
            request_id = scope.get("state", {}).get("request_id")
            logging.getLogger("backend.api.errors").error("unhandled %s in request %s", type(exc).__name__,
                                                          request_id or "-")
            if started:
                return  # part of the answer is out: the connection is closed on the cut answer
            for message in _json_response(500, {"detail": "internal error", "request_id": request_id}):
                await send(message)


class MethodGuardMiddleware:
    """``OPTIONS`` and methods a path does not take, answered from the app's own routes.

    Without it a path such as ``/api/v1/documents`` falls through to the webapp's static files for
    any method its routes lack, which answer ``405`` with ``Allow: GET, HEAD``. Here ``OPTIONS``
    gets 204 and every other method the path's routes lack gets 405, both with an ``Allow`` listing
    exactly the methods of the routes that match the path. Paths no route matches (the webapp's)
    pass through. CORS preflights are answered before this by CORSMiddleware, when configured.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        allowed = _allowed_methods(scope)
        if not allowed or scope["method"] in allowed:
            await self.app(scope, receive, send)
            return
        allow = [(b"allow", ", ".join(sorted(allowed | {"OPTIONS"})).encode())]
        if scope["method"] == "OPTIONS":
            await send({"type": "http.response.start", "status": 204, "headers": allow})
            await send({"type": "http.response.body", "body": b""})
            return
        for message in _json_response(405, {"detail": "method not allowed on this path; Allow lists the ones it takes"},
                                      allow):
            await send(message)


def _endpoints(routes: list[BaseRoute]) -> Iterator[BaseRoute]:
    """The routes with methods, through FastAPI's included routers; mounts (the webapp) left out."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _endpoints(included.routes)
        elif not isinstance(route, Mount) and getattr(route, "methods", None):
            yield route


def _allowed_methods(scope: Scope) -> set[str]:
    router = getattr(scope.get("app"), "router", None)
    methods: set[str] = set()
    for route in _endpoints(getattr(router, "routes", [])):
        if route.matches(scope)[0] is not Match.NONE:
            methods |= route.methods  # type: ignore[attr-defined]
    return methods


class BodyReadTimeoutMiddleware:
    """Answers 408 to a request whose body does not arrive within ``timeout_s`` seconds in all.

    uvicorn bounds how long it waits for a request's head (``backend.core.http``), not for its body:
    a client that sends ``Content-Length: 1000000`` and then one byte a minute would hold a worker's
    request open for ever. The app is told the client went away, as for a body over the size limit.
    """

    def __init__(self, app: ASGIApp, timeout_s: float) -> None:
        self.app = app
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = time.monotonic() + self.timeout_s
        body_done = timed_out = started = False

        async def timed_receive() -> Message:
            nonlocal body_done, timed_out
            if timed_out:
                return {"type": "http.disconnect"}
            if body_done:  # after the body only a disconnect can come: no deadline for that wait
                return await receive()
            try:
                async with asyncio.timeout(max(deadline - time.monotonic(), 0.001)):
                    message = await receive()
            except TimeoutError:
                timed_out = True
                logger.warning("%s %s: request body not received within %g s", scope["method"],
                               route_template(scope), self.timeout_s)
                if not started:
                    for reply in _json_response(408, {"detail": f"the request body did not arrive within "
                                                                f"{self.timeout_s:g} s; send it again"},
                                                [(b"connection", b"close")]):
                        await send(reply)
                return {"type": "http.disconnect"}
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if timed_out:
                return  # the 408 has been sent; what the app answers to the cut body is dropped
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, timed_receive, guarded_send)
