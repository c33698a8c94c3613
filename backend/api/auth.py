"""Who is calling: an EHR system with an API key, or a person signed in on the page (cookie session).

- An API key (``Authorization: Bearer`` or ``X-API-Key``) has scopes: generate, read, sign, admin.
- A session cookie (``alta_session``: HttpOnly, SameSite=Strict, Secure outside development) names
  a user, whose role gives the permissions (``backend.services.users.ROLE_PERMISSIONS``). Writes made
  with the cookie must echo the session's CSRF token in ``X-CSRF-Token``; a cross-site form or fetch
  cannot read it (SameSite=Strict is the second wall, not the only one).
- A signature always belongs to a person: a signed-in médico who entered the password again within
  ``sign_reauth_s``, or, through an EHR key with the ``sign`` scope, a named active médico whose own
  password comes with the request. A key never signs by itself or under a free-text name.

Errors never repeat what the client sent (no username, password, token or key in any answer or log).
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import HTTPException, Request, Response, status
from pydantic import SecretStr
from sqlalchemy.orm import Session

from backend.core.config import Settings
from backend.db.models import User
from backend.services import apikeys, sessions, users
from backend.services.documents import Actor
from backend.services.errors import DomainError

COOKIE = "alta_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

MISSING = ("not signed in: sign in on the page, or send an API key as 'Authorization: Bearer <key>' "
           "(create one with: python -m backend create-key --name NAME --scopes generate read)")


class ReauthRequired(DomainError):
    """Signing needs the password again (``password`` in the body, or POST /api/v1/auth/reauth first)."""

    status_code = 403
    code = "reauth_required"


class WrongPassword(DomainError):
    """A password entered to sign (or to re-authenticate) is not the user's: the session stays signed in."""

    status_code = 403
    code = "wrong_password"


class SignRefused(DomainError):
    status_code = 403
    code = "sign_not_allowed"


@dataclass(frozen=True)
class Caller:
    """A request's caller: ``kind`` is "key" or "user"; ``name`` is what the audit trail records."""

    kind: str
    name: str
    permissions: frozenset[str]
    user: User | None = None
    session: sessions.ActiveSession | None = None

    def allows(self, permission: str) -> bool:
        if self.kind == "key":  # an admin key may do everything a key can
            return "admin" in self.permissions or permission in self.permissions or (
                permission == "print" and "read" in self.permissions)
        return permission in self.permissions

    def actor(self, request_id: str) -> Actor:
        return Actor(self.name, request_id, user_id=self.user.id if self.user is not None else None)

    def refusal(self, permission: str) -> str:
        if self.kind == "key":
            return f"this API key lacks the '{permission}' scope; ask an admin for a key with it"
        role = users.ROLE_LABELS.get(self.user.role, self.user.role) if self.user else "?"
        return f"the role {role} may not do this ('{permission}'); ask an administrator"


def user_caller(active: sessions.ActiveSession) -> Caller:
    user = active.user
    return Caller("user", f"user:{user.username}", users.permissions(user.role), user, active)


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"})


def resolve_caller(request: Request, presented_key: str | None) -> Caller:
    """The caller, or the 401/403 to answer (blocking: database work)."""
    sessionmaker = request.app.state.sessionmaker
    settings: Settings = request.app.state.settings
    if presented_key:
        with sessionmaker() as db:
            principal = apikeys.authenticate(db, presented_key)
        if principal is None:
            raise _unauthorized("invalid or revoked API key")
        return Caller("key", principal.name, principal.scopes)
    token = request.cookies.get(COOKIE)
    if not token:
        raise _unauthorized(MISSING)
    with sessionmaker() as db:
        active = sessions.resolve(db, token, idle_s=settings.session_idle_s)
    if active is None:
        raise _unauthorized("the session has expired or was closed; sign in again")
    if request.method not in SAFE_METHODS and not sessions.csrf_matches(token, request.headers.get(CSRF_HEADER)):
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            f"a write with the session cookie needs the session's {CSRF_HEADER} header "
                            "(GET /api/v1/auth/me gives it to the page)")
    return user_caller(active)


def set_session_cookie(response: Response, token: str, settings: Settings) -> None:
    response.set_cookie(COOKIE, token, max_age=settings.session_ttl_s, path="/", httponly=True,
                        secure=settings.cookie_secure, samesite="strict")


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, secure=settings.cookie_secure, samesite="strict")


def _verify(db: Session, username: str, password: SecretStr, settings: Settings) -> User:
    try:
        return users.verify_password(db, username, password.get_secret_value(),
                                     max_failures=settings.login_max_failures, lockout_s=settings.login_lockout_s)
    except users.InvalidCredentials:
        raise WrongPassword("wrong password; the signature was not made") from None


def signer_for(db: Session, caller: Caller, *, username: str | None, password: SecretStr | None,
               settings: Settings) -> users.Signer:
    """The person a signature will belong to, after checking it is theirs to make."""
    if caller.kind == "user":
        user = caller.user
        if not caller.allows("sign"):
            raise SignRefused(f"the role {users.ROLE_LABELS.get(user.role, user.role)} may not sign; "
                              "a médico signs")
        if username is not None and username.strip().lower() != user.username:
            raise SignRefused("a signed-in user signs as themselves only; leave out username")
        if password is not None:
            _verify(db, user.username, password, settings)
            sessions.mark_reauthenticated(db, caller.session.id)
        elif not sessions.recently_reauthenticated(caller.session, settings.sign_reauth_s):
            raise ReauthRequired("signing needs your password again: send it as 'password'")
        return users.Signer.of(user)
    if not caller.allows("sign"):
        raise SignRefused(caller.refusal("sign"))
    if not username or password is None:
        raise SignRefused("an API key signs only on behalf of a named médico who enters their own password: "
                          "send 'username' and 'password' (the key alone cannot sign)")
    user = _verify(db, username, password, settings)
    if "sign" not in users.permissions(user.role):
        raise SignRefused("that user's role may not sign; a médico signs")
    return users.Signer.of(user, via_key=caller.name)
