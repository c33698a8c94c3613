"""Liveness and readiness probes for the orchestrator (no API key needed, no data returned)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from backend.api.deps import RegistryDep
from backend.db.migrate import current_heads

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The database is reachable and migrated, and an engine is healthy")
async def readyz(request: Request, registry: RegistryDep) -> JSONResponse:
    problems = []
    try:
        with request.app.state.sessionmaker() as session:
            revision = session.execute(text("SELECT version_num FROM alembic_version")).scalar()
        if revision not in current_heads():
            problems.append("database is not migrated to the current schema: run `python -m backend migrate`")
    except SQLAlchemyError:
        problems.append("database unreachable or not migrated: run `python -m backend migrate`")
    healthy = [e.name for e in registry if (await e.health()).healthy]
    if not healthy:
        problems.append("no healthy engine")
    status = 200 if not problems else 503
    return JSONResponse({"status": "ready" if not problems else "not ready", "engines": healthy,
                         "problems": problems}, status_code=status)
