"""API keys for EHR clients: created by the CLI, stored as SHA-256, checked in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db.models import ApiKey, utcnow

SCOPES = ("generate", "read", "sign", "admin")
_PREFIX = "alta_"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the API key's name and what it may do."""

    name: str
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        return "admin" in self.scopes or scope in self.scopes


def _digest(key: str) -> str:
    # Keys are 256-bit random secrets, so a plain SHA-256 is enough (no password stretching needed).
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(session: Session, name: str, scopes: list[str]) -> str:
    """Store a new key and return it; the plain key is shown once and never stored."""
    bad = sorted(set(scopes) - set(SCOPES))
    if bad or not scopes:
        raise ValueError(f"scopes must be some of {', '.join(SCOPES)}; got {bad or 'none'}")
    if session.scalar(select(ApiKey).where(ApiKey.name == name)) is not None:
        raise ValueError(f"an API key named {name!r} exists; revoke it or choose another name")
    prefix = secrets.token_hex(6)
    key = f"{_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    session.add(ApiKey(name=name, prefix=prefix, secret_sha256=_digest(key), scopes=" ".join(sorted(set(scopes)))))
    session.commit()
    return key


def authenticate(session: Session, presented: str) -> Principal | None:
    """The key's principal, or None when the key is unknown, malformed or revoked."""
    parts = presented.split("_")
    prefix = parts[1] if len(parts) >= 3 and presented.startswith(_PREFIX) else ""
    row = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix)) if prefix else None
    expected = row.secret_sha256 if row is not None else "0" * 64
    matches = hmac.compare_digest(_digest(presented), expected)
    if row is None or not matches or row.revoked_at is not None:
        return None
    return Principal(row.name, frozenset(row.scopes.split()))


def revoke_key(session: Session, name: str) -> bool:
    row = session.scalar(select(ApiKey).where(ApiKey.name == name, ApiKey.revoked_at.is_(None)))
    if row is None:
        return False
    row.revoked_at = utcnow()
    session.commit()
    return True


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))
