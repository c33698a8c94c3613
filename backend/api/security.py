"""Security headers on every response: a Content-Security-Policy the webapp's WASM runs under,
cross-origin isolation, and no caching of API answers (they hold patient data).

The policy is one object, :class:`SecurityPolicy`; the app keeps the one it serves with on
``app.state.security_policy``. The webapp is built for its defaults:

- scripts only from this origin, plus ``'wasm-unsafe-eval'`` (ONNX Runtime compiles WebAssembly;
  no ``'unsafe-eval'``, no inline scripts);
- workers from this origin or ``blob:`` URLs (ONNX Runtime's threads), fetches to this origin only
  (the API, the bundles under ``/models/``); nothing from any other origin;
- Cross-Origin-Opener-Policy ``same-origin`` + Cross-Origin-Embedder-Policy ``require-corp``: the
  page is cross-origin isolated, so it gets SharedArrayBuffer and multi-threaded WASM;
  Cross-Origin-Resource-Policy ``same-origin``: no other site can embed Alta's responses.

A header a route set itself (the webapp's long cache on bundle files) is kept.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

SELF = "'self'"


@dataclass(frozen=True)
class SecurityPolicy:
    """The security headers Alta sends; each ``*_src`` field is one CSP directive's sources."""

    default_src: tuple[str, ...] = (SELF,)
    script_src: tuple[str, ...] = (SELF, "'wasm-unsafe-eval'")
    worker_src: tuple[str, ...] = (SELF, "blob:")
    connect_src: tuple[str, ...] = (SELF,)
    img_src: tuple[str, ...] = (SELF, "data:", "blob:")
    style_src: tuple[str, ...] = (SELF,)
    font_src: tuple[str, ...] = (SELF,)
    manifest_src: tuple[str, ...] = (SELF,)
    object_src: tuple[str, ...] = ("'none'",)
    base_uri: tuple[str, ...] = ("'none'",)
    form_action: tuple[str, ...] = (SELF,)
    frame_ancestors: tuple[str, ...] = ("'none'",)
    cross_origin_opener_policy: str = "same-origin"
    cross_origin_embedder_policy: str = "require-corp"
    cross_origin_resource_policy: str = "same-origin"
    referrer_policy: str = "no-referrer"
    no_store_prefixes: tuple[str, ...] = ("/api/", "/v1/", "/metrics")  # answers that hold patient data or state
    hsts_max_age_s: int = 63_072_000  # sent over HTTPS only; browsers ignore it over plain HTTP anyway
    docs_paths: tuple[str, ...] = ("/docs", "/docs/oauth2-redirect", "/redoc")
    # /docs and /redoc start Swagger UI / ReDoc with an inline script, and ReDoc styles with inline
    # <style>: their files are this server's (backend/api/routes/static.py), nothing from another origin.
    docs_script_src: tuple[str, ...] = (SELF, "'unsafe-inline'")
    docs_style_src: tuple[str, ...] = (SELF, "'unsafe-inline'")

    def content_security_policy(self, *, docs: bool = False) -> str:
        directives = {
            "default-src": self.default_src,
            "script-src": self.docs_script_src if docs else self.script_src,
            "worker-src": self.worker_src,
            "connect-src": self.connect_src,
            "img-src": self.img_src,
            "style-src": self.docs_style_src if docs else self.style_src,
            "font-src": self.font_src,
            "manifest-src": self.manifest_src,
            "object-src": self.object_src,
            "base-uri": self.base_uri,
            "form-action": self.form_action,
            "frame-ancestors": self.frame_ancestors,
        }
        return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives.items())

    def headers(self, path: str, *, https: bool = False) -> list[tuple[bytes, bytes]]:
        """The headers for a response to ``path``.

        The interactive API docs (``/docs``, ``/redoc``) start Swagger UI and ReDoc, served from
        this server, with an inline script (and ReDoc's inline styles): they get a CSP that allows
        inline scripts and styles and no cross-origin isolation; every other page keeps both.
        """
        docs = path in self.docs_paths
        out = {
            "content-security-policy": self.content_security_policy(docs=docs),
            "x-content-type-options": "nosniff",
            "referrer-policy": self.referrer_policy,
            "x-frame-options": "DENY",  # frame-ancestors for browsers that predate CSP 2
        }
        if not docs:
            out["cross-origin-opener-policy"] = self.cross_origin_opener_policy
            out["cross-origin-embedder-policy"] = self.cross_origin_embedder_policy
            out["cross-origin-resource-policy"] = self.cross_origin_resource_policy
        if path.startswith(self.no_store_prefixes):
            out["cache-control"] = "no-store"
        if https:
            out["strict-transport-security"] = f"max-age={self.hsts_max_age_s}; includeSubDomains"
        return [(k.encode(), v.encode()) for k, v in out.items()]


class SecurityHeadersMiddleware:
    """Adds the policy's headers to every HTTP response, keeping any a route set itself."""

    def __init__(self, app: ASGIApp, policy: SecurityPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self.policy.headers(scope["path"], https=scope.get("scheme") == "https")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend((name, value) for name, value in extra if name not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
