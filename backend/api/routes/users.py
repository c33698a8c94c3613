"""Users, for administrators: list, create, change role, reset a password, disable."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status
from pydantic import BaseModel, ConfigDict, Field, SecretStr, StringConstraints

from backend.api.deps import AdminCaller, SessionDep, release
from backend.api.errors import ErrorOut, error_responses
from backend.api.routes.auth import UserOut
from backend.services import users

router = APIRouter(prefix="/api/v1/users", tags=["users"], responses=error_responses(401, 403))
_INVALID = {400: {"model": ErrorOut, "description": "a username, role, name or password the rules refuse (see detail)"}}

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Registry = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=64)]
    name: Name
    role: str = Field(description="medico | enfermeria | administrativo | administrador")
    password: SecretStr = Field(min_length=users.MIN_PASSWORD, max_length=users.MAX_PASSWORD)
    registry_type: Registry | None = Field(None, description="RNPI (Chile), cédula profesional (México)")
    registry_number: Registry | None = None


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    role: str | None = None
    active: bool | None = Field(None, description="false signs the user out everywhere and refuses sign-in")
    password: SecretStr | None = Field(None, min_length=users.MIN_PASSWORD, max_length=users.MAX_PASSWORD)
    registry_type: Registry | None = None
    registry_number: Registry | None = None


@router.get("", response_model=list[UserOut], summary="List users (never passwords or hashes)")
def list_users(session: SessionDep, _admin: AdminCaller) -> list[UserOut]:
    out = [UserOut.of(u) for u in users.list_users(session)]
    release(session)
    return out


@router.post("", response_model=UserOut, status_code=status.HTTP_201_CREATED, summary="Create a user",
             responses={**_INVALID, **error_responses(409)})
def create_user(body: UserCreate, session: SessionDep, _admin: AdminCaller) -> UserOut:
    user = users.create_user(session, username=body.username, name=body.name, role=body.role,
                             password=body.password.get_secret_value(), registry_type=body.registry_type,
                             registry_number=body.registry_number)
    out = UserOut.of(user)
    release(session)
    return out


@router.patch("/{user_id}", response_model=UserOut, summary="Change a user's role, name, password or active flag",
              responses={**_INVALID, **error_responses(404)})
def update_user(user_id: Annotated[int, Path(ge=1, le=2**31 - 1)], body: UserUpdate, session: SessionDep,
                _admin: AdminCaller) -> UserOut:
    user = users.update_user(session, user_id, active=body.active, role=body.role, name=body.name,
                             password=body.password.get_secret_value() if body.password else None,
                             registry_type=body.registry_type, registry_number=body.registry_number)
    out = UserOut.of(user)
    release(session)
    return out
