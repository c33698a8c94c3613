"""GET /api/v1/models: the engines and models this server can write with, and their health."""

from __future__ import annotations

from fastapi import APIRouter

from backend.api.deps import PrincipalDep, RegistryDep
from backend.api.schemas import ModelOut

router = APIRouter(prefix="/api/v1", tags=["models"])


@router.get("/models", response_model=list[ModelOut], summary="Engines in fallback order, with health")
async def list_models(registry: RegistryDep, _principal: PrincipalDep) -> list[ModelOut]:
    out = []
    for position, engine in enumerate(registry):
        health = await engine.health()
        out.append(ModelOut(engine=engine.name, model=engine.model, version=engine.model_version,
                            tasks=list(engine.tasks), healthy=health.healthy, detail=health.detail, position=position))
    return out
