"""Request dependencies as type aliases: the session, the caller, the engines."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from backend.api.auth import Caller, resolve_caller
from backend.engines.registry import EngineRegistry
from backend.services.documents import Actor


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessionmaker() as session:
        yield session


def get_registry(request: Request) -> EngineRegistry:
    return request.app.state.engines


SessionDep = Annotated[Session, Depends(get_session)]


def release(session: Session) -> None:
    """Give the database connection back before the route returns, not after FastAPI has validated
    the response in its thread pool: under load, requests holding pooled connections while every
    pool thread waits for a connection deadlock until the pool times out. Objects already loaded
    stay readable."""
    session.close()
RegistryDep = Annotated[EngineRegistry, Depends(get_registry)]

_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <API key>")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="or X-API-Key: <API key>")


def _principal(request: Request, presented: str | None) -> Caller:
    return resolve_caller(request, presented)  # an API key if one is sent, else the session cookie


def get_principal(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    header: Annotated[str | None, Security(_header)],
) -> Caller:
    return _principal(request, bearer.credentials if bearer is not None else header)


def _needs_key(dependant: Dependant) -> bool:
    return any(d.call is get_principal or _needs_key(d) for d in dependant.dependencies)


def refused_credentials(request: Request) -> HTTPException | None:
    """The 401 a request would get, when its route takes an API key; None when it would pass.

    FastAPI reads the body before it runs dependencies, so a body that is not JSON would be
    answered 422 before the key is looked at: a caller without a valid key learns nothing about
    the route's body (blocking: call it in a worker thread)."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not _needs_key(route.dependant):
        return None
    authorization = request.headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    presented = credentials.strip() if scheme.lower() == "bearer" else None
    try:
        _principal(request, presented or request.headers.get("x-api-key"))
    except HTTPException as exc:
        return exc
    return None


PrincipalDep = Annotated[Caller, Depends(get_principal)]


def require_caller(permission: str):
    """A dependency that lets the request through only when the caller (key scope or user role) may."""

    def check(caller: PrincipalDep) -> Caller:
        if not caller.allows(permission):
            raise HTTPException(status.HTTP_403_FORBIDDEN, caller.refusal(permission))
        return caller

    return check


def require(scope: str):
    """``require_caller`` as the audit trail's Actor (the key's name, or the user)."""

    allowed = Depends(require_caller(scope))  # a default, not an annotation: annotations here are strings

    def check(request: Request, caller: Caller = allowed) -> Actor:
        return caller.actor(request.state.request_id)

    return check


GenerateActor = Annotated[Actor, Depends(require("generate"))]
ReadActor = Annotated[Actor, Depends(require("read"))]
SignActor = Annotated[Actor, Depends(require("sign"))]
PrintCaller = Annotated[Caller, Depends(require_caller("print"))]
AdminCaller = Annotated[Caller, Depends(require_caller("admin"))]
