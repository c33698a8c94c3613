"""Users: who may do what (roles), argon2id passwords, and lockout after repeated wrong passwords.

A role is a person's job; an API key's scopes are a system's rights. Both become the same small set
of permissions, so a route asks one question ("may this caller sign?") whoever calls.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.db.models import User, utcnow
from backend.db.session import write_lock
from backend.services.errors import DomainError
from backend.services.sessions import revoke_user_sessions

ROLES = ("medico", "enfermeria", "administrativo", "administrador")
ROLE_LABELS = {"medico": "médico", "enfermeria": "enfermería", "administrativo": "administrativo",
               "administrador": "administrador"}
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "medico": frozenset({"generate", "read", "print", "sign"}),
    "enfermeria": frozenset({"read", "print"}),
    "administrativo": frozenset({"read", "print"}),
    # Users, keys and the audit trail; not the patients' documents.
    "administrador": frozenset({"admin"}),
}
REGISTRY_TYPES = ("RNPI", "cédula profesional", "otro")
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024  # argon2 takes any length; a bound keeps one request from costing much more than another

# argon2id with argon2-cffi's RFC 9106 "low memory" profile (t=3, m=64 MiB, p=4).
_hasher = PasswordHasher()
# Verified against when the username is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("alta-dummy-password-for-timing")


class InvalidCredentials(DomainError):
    status_code = 401
    code = "invalid_credentials"


class AccountLocked(DomainError):
    status_code = 429
    code = "account_locked"


class UserConflict(DomainError):
    status_code = 409
    code = "user_exists"


class UserNotFound(DomainError):
    status_code = 404
    code = "user_not_found"


class InvalidUser(DomainError):
    status_code = 400
    code = "invalid_user"


def permissions(role: str) -> frozenset[str]:
    return ROLE_PERMISSIONS.get(role, frozenset())


@dataclass(frozen=True)
class Signer:
    """The person a signature belongs to, as recorded on the document."""

    user_id: int
    name: str
    registry_type: str | None
    registry_number: str | None
    via_key: str | None = None

    @classmethod
    def of(cls, user: User, via_key: str | None = None) -> Signer:
        return cls(user.id, user.name, user.registry_type, user.registry_number, via_key)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password_policy(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidUser(f"the password must have {MIN_PASSWORD} to {MAX_PASSWORD} characters")


def _validate(username: str, name: str, role: str, registry_type: str | None) -> None:
    if not USERNAME.match(username):
        raise InvalidUser("the username must be 2-64 characters: lowercase letters, digits, '.', '_' or '-'")
    if not name.strip() or len(name) > 200:
        raise InvalidUser("the name must have 1 to 200 characters")
    if role not in ROLES:
        raise InvalidUser(f"the role must be one of {', '.join(ROLES)}")
    if registry_type is not None and len(registry_type) > 40:
        raise InvalidUser("the registry type must have at most 40 characters")


def create_user(session: Session, *, username: str, name: str, role: str, password: str,
                registry_type: str | None = None, registry_number: str | None = None) -> User:
    """Store a new user with an argon2id hash of ``password``; the password is not kept."""
    username = username.strip().lower()
    _validate(username, name, role, registry_type)
    check_password_policy(password)
    if role == "medico" and not (registry_type and registry_number):
        raise InvalidUser("a médico needs a professional registry (type and number: RNPI, cédula profesional)")
    user = User(username=username, name=name.strip(), role=role, password_hash=hash_password(password),
                registry_type=registry_type, registry_number=registry_number, active=True, failed_logins=0)
    session.add(user)
    with write_lock(session):
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            raise UserConflict("a user with that username exists; choose another") from None
    return user


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise UserNotFound("no user with that id; GET /api/v1/users lists them")
    return user


def find_user(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username.strip().lower()))


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.id)))


def update_user(session: Session, user_id: int, *, active: bool | None = None, role: str | None = None,
                password: str | None = None, name: str | None = None, registry_type: str | None = None,
                registry_number: str | None = None) -> User:
    user = get_user(session, user_id)
    if role is not None:
        _validate(user.username, user.name, role, None)
        user.role = role
    if name is not None:
        _validate(user.username, name, user.role, None)
        user.name = name.strip()
    if registry_type is not None:
        _validate(user.username, user.name, user.role, registry_type)
        user.registry_type = registry_type
    if registry_number is not None:
        user.registry_number = registry_number
    if password is not None:
        check_password_policy(password)
        user.password_hash = hash_password(password)
        user.failed_logins, user.locked_until = 0, None
    if active is not None:
        user.active = active
    user.updated_at = utcnow()
    with write_lock(session):
        session.commit()
    if active is False or password is not None:  # a disabled user, or a reset password, is signed out everywhere
        revoke_user_sessions(session, user.id)
    return user


_WRONG = "wrong username or password"


def verify_password(session: Session, username: str, password: str, *, max_failures: int, lockout_s: int,
                    now: dt.datetime | None = None) -> User:
    """The active user whose password this is; counts failures and locks the user after ``max_failures``.

    Unknown users, inactive users and wrong passwords get the same answer, after the same argon2 work.
    A locked user gets 429 until the lock ends, even with the right password (a guesser learns nothing).
    """
    now = now or utcnow()
    user = find_user(session, username) if len(password) <= MAX_PASSWORD else None
    if user is None or len(password) > MAX_PASSWORD:
        try:
            _hasher.verify(_DUMMY_HASH, password[:MAX_PASSWORD])
        except VerificationError:
            pass
        raise InvalidCredentials(_WRONG)
    if user.locked_until is not None and user.locked_until > now:
        seconds = int((user.locked_until - now).total_seconds()) + 1
        error = AccountLocked(f"too many wrong passwords; try again in {seconds // 60 + 1} minutes "
                              "or ask an administrator to reset the password")
        error.retry_after_s = seconds
        raise error
    try:
        ok = _hasher.verify(user.password_hash, password)
    except (VerifyMismatchError, InvalidHashError, VerificationError):
        ok = False
    if not ok:
        # Counted in the database (not read-modify-write), so guesses sent in parallel all count.
        with write_lock(session):
            failures = session.execute(
                update(User).where(User.id == user.id).values(failed_logins=User.failed_logins + 1)
                .returning(User.failed_logins)).scalar_one()
            if failures >= max_failures:
                session.execute(update(User).where(User.id == user.id)
                                .values(failed_logins=0, locked_until=now + dt.timedelta(seconds=lockout_s)))
            session.commit()
        raise InvalidCredentials(_WRONG)
    if not user.active:
        raise InvalidCredentials(_WRONG)
    if user.failed_logins or user.locked_until or _hasher.check_needs_rehash(user.password_hash):
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        user.failed_logins, user.locked_until = 0, None
        with write_lock(session):
            session.commit()
    return user
