"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from backend.api.errors import document_errors, install_error_handlers
from backend.api.fhir_body import document_request_bodies
from backend.api.middleware import (
    BodyReadTimeoutMiddleware,
    BodySizeLimitMiddleware,
    MethodGuardMiddleware,
    RequestContextMiddleware,
    UnhandledErrorMiddleware,
)
from backend.api.routes import audit as audit_route
from backend.api.routes import auth as auth_route
from backend.api.routes import client_drafts, documents, epicrisis, fhir, health, models, static
from backend.api.routes import metrics as metrics_route
from backend.api.routes import openai as openai_route
from backend.api.routes import translations as translations_route
from backend.api.routes import users as users_route
from backend.api.security import SecurityHeadersMiddleware, SecurityPolicy
from backend.core.config import Settings, get_settings
from backend.db.session import make_engine, make_sessionmaker
from backend.engines.registry import build_registry
from backend.services import recovery
from backend.services.admission import AdmissionControl
from backend.services.translation import JobRunner

DESCRIPTION = """
Alta writes Spanish discharge summaries (epicrisis) from structured hospital stays, stores them
with every version, and lets clinicians edit and sign them. Every draft says which engine wrote it.

EHR systems authenticate with `Authorization: Bearer <API key>` (create one with
`python -m backend create-key --name NAME --scopes generate read`). People sign in on the page
(`POST /api/v1/auth/login`, a session cookie); a signature is always a named médico's.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    db = make_engine(settings.resolved_database_url, settings.db_pool_size, settings.sqlite_synchronous)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # Jobs a killed process left queued or running are failed now, and every 15 s after.
        sessions, timeout_s = app.state.sessionmaker, settings.job_heartbeat_timeout_s
        await asyncio.to_thread(recovery.at_startup, sessions, timeout_s)
        sweeper = asyncio.create_task(recovery.sweep(sessions, timeout_s, lambda: app.state.translation_jobs.alive))
        yield
        sweeper.cancel()
        await app.state.translation_jobs.shutdown()  # running jobs record themselves as interrupted
        for engine in app.state.engines:  # worker threads, HTTP connection pools
            await engine.aclose()
        db.dispose()

    app = FastAPI(title="Alta", version="0.1.0", description=DESCRIPTION, lifespan=lifespan,
                  docs_url=None, redoc_url=None)  # served from this server by static.mount_docs: no CDN
    app.state.settings = settings
    app.state.sessionmaker = make_sessionmaker(db)
    app.state.engines = build_registry(settings.engine_order, settings)
    app.state.admission = AdmissionControl.from_settings(settings)
    app.state.translation_jobs = JobRunner.from_settings(settings)
    app.state.security_policy = SecurityPolicy()

    install_error_handlers(app)
    for router in (health.router, epicrisis.router, documents.router, fhir.router, client_drafts.router,
                   models.router, static.router):
        app.include_router(router)
    app.include_router(metrics_route.router)
    app.include_router(translations_route.router)
    app.include_router(openai_route.router)  # /v1: OpenAI-compatible chat completions
    for router in (auth_route.router, users_route.router, audit_route.router):  # people: sign-in, users, audit
        app.include_router(router)
    static.mount_docs(app)  # /docs and /redoc with Swagger UI and ReDoc from a package, offline
    static.mount_webapp(app, settings.webapp_dir)  # last: it answers every path no route took
    app.add_middleware(UnhandledErrorMiddleware)  # innermost: its 500 passes every header middleware below
    app.add_middleware(MethodGuardMiddleware)  # Allow from the routes, not from the webapp's static files
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins,
                           allow_methods=["GET", "POST", "PUT"], allow_headers=["Authorization", "X-API-Key", "Content-Type"])  # no X-CSRF-Token: cookies are same-origin only
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes,
                       uploads={translations_route.router.prefix: settings.max_upload_bytes})
    app.add_middleware(BodyReadTimeoutMiddleware, timeout_s=settings.body_read_timeout_s)
    app.add_middleware(RequestContextMiddleware)
    app.add_middleware(SecurityHeadersMiddleware, policy=app.state.security_policy)
    document_errors(app)
    document_request_bodies(app)  # JSON or FHIR R4 Bundle bodies (backend/api/fhir_body.py)
    return app
