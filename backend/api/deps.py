"""Request dependencies as type aliases: the session, the caller, the engines."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from backend.engines.base import EngineRegistry
from backend.services.apikeys import Principal, authenticate
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


def get_principal(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    header: Annotated[str | None, Security(_header)],
) -> Principal:
    presented = bearer.credentials if bearer is not None else header
    if not presented:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>' "
            "(create one with: python -m backend create-key --name NAME --scopes generate read)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    with request.app.state.sessionmaker() as session:
        principal = authenticate(session, presented)
    if principal is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid or revoked API key",
                            headers={"WWW-Authenticate": "Bearer"})
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require(scope: str):
    """A dependency that lets the request through only when the key has ``scope``."""

    def check(principal: PrincipalDep, request: Request) -> Actor:
        if not principal.allows(scope):
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                f"this API key lacks the '{scope}' scope; ask an admin for a key with it")
        return Actor(principal.name, request.state.request_id)

    return check


GenerateActor = Annotated[Actor, Depends(require("generate"))]
ReadActor = Annotated[Actor, Depends(require("read"))]
SignActor = Annotated[Actor, Depends(require("sign"))]
