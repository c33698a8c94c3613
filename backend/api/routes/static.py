"""What the browser loads without an API key: the clinician UI, the bundles it runs, and their list.

- ``GET /api/v1/bundles``: the catalog's models a browser may run (name, version, shipped dtypes,
  sizes, URL). Public because the page needs it before a key is entered; it holds no patient data.
- ``GET /models/{name}/{version}/{path}``: a bundle's files, and only those its ``manifest.json``
  lists (a stray checkpoint or a training log next to the bundle is never served). The URL carries
  the bundle's version (its manifest's, which changes with every export), so the files under a URL
  never change: they are sent with a year-long ``immutable`` cache and their sha256 as ETag, a
  browser downloads a 1 GB model once, and a re-exported bundle gets new URLs instead of stale caches.
- ``/``: the built webapp (``webapp/dist``), with ``index.html`` for client-side routes.

Cross-origin isolation (COOP ``same-origin`` + COEP ``require-corp``, which give ONNX Runtime
SharedArrayBuffer and several WASM threads) and the CSP come from ``backend.api.security`` on every
response; this module sets only what is particular to static files (cache lifetimes, MIME types).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, HTTPException, Request, status
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from backend.engines.bundle import MANIFEST, BundleError, CatalogEntry, load_catalog

logger = logging.getLogger(__name__)

IMMUTABLE = "public, max-age=31536000, immutable"
# Types Python's mimetypes does not know, or gets wrong for browsers (WebAssembly must be
# application/wasm for streaming compilation; .mjs must be JavaScript for a module import).
MEDIA_TYPES = {
    ".onnx": "application/octet-stream",
    ".onnx_data": "application/octet-stream",
    ".json": "application/json",
    ".jinja": "text/plain; charset=utf-8",
    ".wasm": "application/wasm",
    ".mjs": "text/javascript; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".webmanifest": "application/manifest+json",
}
# Paths the webapp's index.html fallback never answers: an unknown API route stays a JSON 404.
NOT_WEBAPP = ("api/", "v1/", "models/", "docs", "redoc", "openapi.json", "metrics", "healthz", "readyz")

router = APIRouter(tags=["webapp"])


class BundleDtypeOut(BaseModel):
    file: str = Field(description="the graph, relative to the bundle's URL")
    bytes: int = Field(description="what a browser downloads to run this dtype: the graph, its external data, "
                                   "config and tokenizer files")


class BundleOut(BaseModel):
    name: str
    version: str
    tasks: list[str]
    dtype: str = Field(description="the dtype the catalog (or the bundle) chooses by default")
    dtypes: dict[str, BundleDtypeOut] = Field(description="dtypes that passed the export's validation gate")
    url: str = Field(description="where the bundle's files are served (/models/<name>/<version>/)")
    demo: bool = Field(False, description="a demonstration model: its drafts are labelled as such")


class BundleList(BaseModel):
    default: str | None
    models: list[BundleOut]
    max_new_tokens: int = Field(description="longest draft, in tokens, as the server's ONNX engine writes it")


@dataclass(frozen=True)
class _Manifest:
    root: Path
    data: dict[str, Any]
    files: dict[str, dict[str, Any]]


_MANIFESTS: dict[tuple[Path, int], _Manifest] = {}


def _manifest(root: Path) -> _Manifest:
    """The bundle's manifest, re-read only when the file changes (a re-export under the same name)."""
    path = root / MANIFEST
    key = (path, path.stat().st_mtime_ns)
    if key not in _MANIFESTS:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise BundleError(f"{path} is not valid JSON ({exc}); re-export or re-copy the bundle") from None
        _MANIFESTS[key] = _Manifest(root, data, {f["path"]: f for f in data.get("files", [])})
    return _MANIFESTS[key]


def _catalog(request: Request) -> tuple[list[CatalogEntry], str | None]:
    """The catalog's entries and default; none when no model has been exported yet."""
    models_dir: Path = request.app.state.settings.models_dir
    if not (models_dir / "catalog.json").exists():
        return [], None
    return load_catalog(models_dir)


def _describe(name: str, root: Path, catalog_dtype: str | None, tasks: tuple[str, ...],
              demo: bool = False) -> BundleOut | None:
    try:
        manifest = _manifest(root)
    except (OSError, BundleError):
        logger.warning("catalog model %s has no readable bundle manifest; not offered to browsers", name)
        return None
    shipped = {d: e for d, e in manifest.data.get("dtypes", {}).items() if e.get("status") == "passed"}
    graphs = {p for e in manifest.data.get("dtypes", {}).values() for p in (e["file"], *e.get("external_data", []))}
    common = sum(f["size"] for path, f in manifest.files.items() if path not in graphs)
    dtypes = {
        dtype: BundleDtypeOut(file=entry["file"], bytes=common + sum(
            manifest.files.get(p, {}).get("size", 0) for p in (entry["file"], *entry.get("external_data", []))))
        for dtype, entry in shipped.items()
    }
    if not dtypes:
        return None
    default = catalog_dtype if catalog_dtype in dtypes else manifest.data.get("default_dtype")
    return BundleOut(name=name, version=str(manifest.data.get("version", "")), tasks=list(tasks),
                     dtype=default if default in dtypes else next(iter(dtypes)), dtypes=dtypes, url=f"/models/{name}/{manifest.data.get('version', '')}/", demo=demo)


@router.get("/api/v1/bundles", response_model=BundleList, summary="Model bundles a browser can run (public)")
def list_bundles(request: Request) -> BundleList:
    """The catalog's bundles with their shipped dtypes; the webapp picks one from here, never by a built-in name."""
    entries, default = _catalog(request)
    models = [m for e in entries if (m := _describe(e.name, e.bundle, e.dtype, e.tasks, e.demo)) is not None]
    if default not in {m.name for m in models}:
        default = models[0].name if models else None
    return BundleList(default=default, models=models, max_new_tokens=request.app.state.settings.onnx_max_new_tokens)


SEGMENT = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
BundleName = Annotated[str, PathParam(pattern=SEGMENT, description="catalog model name")]
BundleVersion = Annotated[str, PathParam(pattern=SEGMENT, description="the bundle's version (GET /api/v1/bundles)")]


@router.get("/models/{name}/{version}/{file_path:path}", response_class=FileResponse,
            summary="A file of a model bundle (only files its manifest lists)")
def bundle_file(name: BundleName, version: BundleVersion, file_path: str, request: Request) -> Response:
    root = next((e.bundle for e in _catalog(request)[0] if e.name == name), None)
    if root is None:
        # Neither the name nor the path is repeated: they are whatever the client put in the URL.
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such model in the catalog; GET /api/v1/bundles lists them")
    try:
        manifest = _manifest(root)
    except (OSError, BundleError):
        manifest = None
    if manifest is None or str(manifest.data.get("version")) != version:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "this bundle version is not served (re-exported since?); "
                                                       "GET /api/v1/bundles gives the current URL")
    listed = manifest.files.get(file_path)
    if listed is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "the bundle's manifest lists no such file; only the files "
                                                       "manifest.json lists are served")
    path = root / file_path
    if not path.is_file() or path.stat().st_size != listed["size"]:
        # The engine refuses such a bundle at start-up; the browser must not get it either.
        logger.warning("bundle %s: %s is missing or not the size its manifest says", name, file_path)
        raise HTTPException(status.HTTP_404_NOT_FOUND, "this bundle file is missing or altered on the server; "
                                                       "copy the bundle again")
    etag = f'"{listed["sha256"]}"'
    headers = {"Cache-Control": IMMUTABLE, "ETag": etag}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return FileResponse(path, headers=headers, media_type=_media_type(file_path))


def _media_type(path: str) -> str | None:
    for suffix, media_type in MEDIA_TYPES.items():
        if path.endswith(suffix):
            return media_type
    return None


class WebappFiles(StaticFiles):
    """The built webapp: hashed assets cached for a year, everything else revalidated, SPA fallback.

    ``index.html``, ``sw.js`` and the ONNX Runtime files under ``ort/`` keep their names across
    builds, so they are revalidated (ETag) on every load; files under ``assets/`` carry a content
    hash in their name and never change.
    """

    def file_response(self, full_path, stat_result, scope: Scope, status_code: int = 200) -> Response:  # noqa: ANN001
        response = super().file_response(full_path, stat_result, scope, status_code)
        rel = Path(full_path).relative_to(Path(self.directory).resolve()).as_posix()
        media_type = _media_type(rel)
        if media_type is not None:
            response.headers["content-type"] = media_type
        response.headers["Cache-Control"] = IMMUTABLE if rel.startswith("assets/") else "no-cache"
        if rel == "sw.js":
            response.headers["Service-Worker-Allowed"] = "/"
        return response

    async def get_response(self, path: str, scope: Scope) -> Response:
        try:
            return await super().get_response(path, scope)
        except StarletteHTTPException as exc:
            # Client-side routes get the app; an unknown API or asset path stays a plain 404.
            if exc.status_code != 404 or path.startswith(NOT_WEBAPP) or "." in path.rsplit("/", 1)[-1]:
                raise
            return await super().get_response("index.html", scope)


def mount_webapp(app: FastAPI, webapp_dir: Path) -> None:
    """Serve ``webapp_dir`` at ``/`` (after every API route), or say how to build it when it is missing."""
    if not (webapp_dir / "index.html").is_file():
        logger.warning("no built webapp at %s: the API works, the clinician UI is not served; build it with "
                       "`npm ci && npm run build` in webapp/ (make run does)", webapp_dir)
        return
    app.mount("/", WebappFiles(directory=webapp_dir, html=True), name="webapp")


# --- the API docs, served from this server --------------------------------------------------------
# FastAPI's /docs and /redoc load Swagger UI and ReDoc from a CDN, which an offline hospital network
# cannot reach (a blank page). The same files come here from a registry package, fastapi-offline
# (swagger-ui-bundle.js, swagger-ui.css, redoc.standalone.js), and are served under /docs/static.
# create_app turns FastAPI's own pages off (docs_url=None, redoc_url=None).

DOCS_STATIC = "/docs/static"


def _docs_assets() -> Path:
    import fastapi_offline

    return Path(fastapi_offline.__file__).parent / "static"


def mount_docs(app: FastAPI) -> None:
    """Swagger UI at ``/docs`` and ReDoc at ``/redoc``, every file from this server."""
    from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html

    title = f"{app.title} API"

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> Response:
        return get_swagger_ui_html(openapi_url=app.openapi_url or "/openapi.json", title=title,
                                   swagger_js_url=f"{DOCS_STATIC}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{DOCS_STATIC}/swagger-ui.css",
                                   swagger_favicon_url=f"{DOCS_STATIC}/favicon.png",
                                   oauth2_redirect_url="/docs/oauth2-redirect")

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    def swagger_ui_redirect() -> Response:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> Response:
        return get_redoc_html(openapi_url=app.openapi_url or "/openapi.json", title=title,
                              redoc_js_url=f"{DOCS_STATIC}/redoc.standalone.js",
                              redoc_favicon_url=f"{DOCS_STATIC}/favicon.png", with_google_fonts=False)

    app.mount(DOCS_STATIC, StaticFiles(directory=_docs_assets()), name="docs-static")
