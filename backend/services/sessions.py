"""Server-side sign-in sessions: a random token in the cookie, its sha256 in the database.

A session ends at its absolute expiry, after ``idle_s`` without a request, at logout, or when the
user is disabled or their password changes. The CSRF token is derived from the session token
(sha256 of a fixed label and the token), so it needs no column and reveals nothing about the token.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from backend.db.models import User, UserSession, utcnow
from backend.db.session import write_lock

TOUCH_EVERY = dt.timedelta(seconds=60)  # last_seen_at is written at most this often per session


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token(token: str) -> str:
    """The value a page must echo in X-CSRF-Token with every write made with this session's cookie."""
    return hashlib.sha256(b"alta-csrf\0" + token.encode()).hexdigest()


def csrf_matches(token: str, presented: str | None) -> bool:
    return presented is not None and hmac.compare_digest(csrf_token(token), presented)


@dataclass(frozen=True)
class ActiveSession:
    id: int
    user: User
    reauth_at: dt.datetime | None
    expires_at: dt.datetime


def create_session(session: Session, user: User, *, ttl_s: int) -> tuple[str, dt.datetime]:
    """A new session for ``user`` and when it expires; the token is returned once (for the cookie) and
    only its digest kept."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(UserSession(token_sha256=_digest(token), user_id=user.id, created_at=now, last_seen_at=now,
                            expires_at=now + dt.timedelta(seconds=ttl_s)))
    # Expired and revoked rows are useless: drop them as new ones come in.
    session.execute(delete(UserSession).where(UserSession.expires_at < now - dt.timedelta(days=1)))
    with write_lock(session):
        session.commit()
    return token, now + dt.timedelta(seconds=ttl_s)


def resolve(session: Session, token: str, *, idle_s: int, now: dt.datetime | None = None) -> ActiveSession | None:
    """The live session of this token and its active user, or None (unknown, expired, idle, revoked)."""
    now = now or utcnow()
    row = session.scalar(select(UserSession).where(UserSession.token_sha256 == _digest(token)))
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    if row.last_seen_at + dt.timedelta(seconds=idle_s) <= now:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
        with write_lock(session):
            session.commit()
    return ActiveSession(row.id, user, row.reauth_at, row.expires_at)


def mark_reauthenticated(session: Session, session_id: int, *, now: dt.datetime | None = None) -> None:
    session.execute(update(UserSession).where(UserSession.id == session_id).values(reauth_at=now or utcnow()))
    with write_lock(session):
        session.commit()


def recently_reauthenticated(active: ActiveSession, window_s: int, *, now: dt.datetime | None = None) -> bool:
    now = now or utcnow()
    return active.reauth_at is not None and now - active.reauth_at <= dt.timedelta(seconds=window_s)


def revoke(session: Session, token: str) -> None:
    session.execute(update(UserSession).where(UserSession.token_sha256 == _digest(token),
                                              UserSession.revoked_at.is_(None)).values(revoked_at=utcnow()))
    with write_lock(session):
        session.commit()


def revoke_user_sessions(session: Session, user_id: int) -> None:
    session.execute(update(UserSession).where(UserSession.user_id == user_id,
                                              UserSession.revoked_at.is_(None)).values(revoked_at=utcnow()))
    with write_lock(session):
        session.commit()
