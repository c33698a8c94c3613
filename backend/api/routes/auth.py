"""Sign-in for the page: login, logout, who am I (with the CSRF token), and re-authentication."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, SecretStr, StringConstraints

from backend.api import auth
from backend.api.deps import PrincipalDep, SessionDep
from backend.api.errors import ErrorOut, error_responses
from backend.services import sessions, users

router = APIRouter(prefix="/api/v1/auth", tags=["auth"], responses=error_responses(401, 429))
_NOT_A_KEY = {400: {"model": ErrorOut, "description": "an API key called a route that is for a signed-in person"}}


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    password: SecretStr = Field(min_length=1, max_length=users.MAX_PASSWORD)


class ReauthIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: SecretStr = Field(min_length=1, max_length=users.MAX_PASSWORD)


class UserOut(BaseModel):
    id: int
    username: str
    name: str
    role: str
    role_label: str
    registry_type: str | None
    registry_number: str | None
    active: bool
    permissions: list[str]

    @classmethod
    def of(cls, user) -> UserOut:
        return cls(id=user.id, username=user.username, name=user.name, role=user.role,
                   role_label=users.ROLE_LABELS.get(user.role, user.role), registry_type=user.registry_type,
                   registry_number=user.registry_number, active=user.active,
                   permissions=sorted(users.permissions(user.role)))


class SessionOut(BaseModel):
    user: UserOut
    csrf_token: str = Field(description="echo it in X-CSRF-Token with every write made with the session cookie")
    expires_at: str
    sign_reauth_s: int = Field(description="how long a password entered to sign stays good for further signatures")


def _session_out(request: Request, user, token: str, expires_at) -> SessionOut:
    return SessionOut(user=UserOut.of(user), csrf_token=sessions.csrf_token(token),
                      expires_at=expires_at.isoformat() + "+00:00",
                      sign_reauth_s=request.app.state.settings.sign_reauth_s)


@router.post("/login", response_model=SessionOut, summary="Sign in with a username and password (sets the cookie)")
def login(body: LoginIn, request: Request, response: Response, session: SessionDep) -> SessionOut:
    """Wrong username and wrong password get the same 401; after ``ALTA_LOGIN_MAX_FAILURES`` wrong
    passwords in a row the user is locked for ``ALTA_LOGIN_LOCKOUT_S`` (429 with Retry-After)."""
    settings = request.app.state.settings
    user = users.verify_password(session, body.username, body.password.get_secret_value(),
                                 max_failures=settings.login_max_failures, lockout_s=settings.login_lockout_s)
    old = request.cookies.get(auth.COOKIE)
    if old:  # a new sign-in on this browser ends the one before (no session fixation)
        sessions.revoke(session, old)
    token, expires_at = sessions.create_session(session, user, ttl_s=settings.session_ttl_s)
    auth.set_session_cookie(response, token, settings)
    return _session_out(request, user, token, expires_at)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, summary="Sign out (ends the session)")
def logout(request: Request, session: SessionDep) -> Response:
    """Always answers 204 and clears the cookie; a live session is ended when the CSRF token matches."""
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    token = request.cookies.get(auth.COOKIE)
    if token and sessions.csrf_matches(token, request.headers.get(auth.CSRF_HEADER)):
        sessions.revoke(session, token)
    auth.clear_session_cookie(response, request.app.state.settings)
    return response


@router.get("/me", response_model=SessionOut, summary="The signed-in user and the session's CSRF token",
            responses=_NOT_A_KEY)
def me(request: Request, caller: PrincipalDep) -> SessionOut:
    if caller.kind != "user":
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "an API key has no user; /auth/me is for the page")
    return _session_out(request, caller.user, request.cookies[auth.COOKIE], caller.session.expires_at)


@router.get("/session", response_model=SessionOut | None,
            summary="The page's question at start: who is signed in on this browser (null: nobody)")
def current_session(request: Request, session: SessionDep) -> SessionOut | None:
    """Like /me, but 200 with null when the cookie is missing, expired or closed (a signed-out page
    is not an error); writes nothing but the session's last-seen time."""
    token = request.cookies.get(auth.COOKIE)
    active = sessions.resolve(session, token, idle_s=request.app.state.settings.session_idle_s) if token else None
    if active is None:
        return None
    return _session_out(request, active.user, token, active.expires_at)


@router.post("/reauth", status_code=status.HTTP_204_NO_CONTENT, summary="Enter the password again before signing",
             responses={**_NOT_A_KEY, **error_responses(403)})
def reauth(body: ReauthIn, request: Request, caller: PrincipalDep, session: SessionDep) -> Response:
    if caller.kind != "user":
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "an API key has no user to re-authenticate")
    auth.signer_for(session, caller, username=None, password=body.password, settings=request.app.state.settings)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
