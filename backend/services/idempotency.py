"""Idempotency keys for document-creating POSTs: a retried request gets the document it already made.

A client that sends ``Idempotency-Key: <its own unique string>`` can retry after a timeout, a dropped
connection or a server crash without writing a second document:

- the same key with the same body (and route) answers the stored document (200,
  ``Idempotent-Replayed: true``), without generating anything;
- the same key with another body is refused (422 naming ``Idempotency-Key``): a key names one request;
- keys belong to the API key that sent them and are forgotten after ``ALTA_IDEMPOTENCY_TTL_S``.

The key's row is written in the transaction that stores the document (:func:`record_with`), so
there is no moment when the document exists and the key does not: a crash between the commit and
the answer leaves both, and the retry replays. Two requests with the same key at once both write a
draft, but only one commits (the unique key); the other answers the winner's document.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from fastapi.exceptions import RequestValidationError
from sqlalchemy import delete, event, select
from sqlalchemy.orm import Session

from backend.db.models import Document, IdempotencyKey, utcnow

HEADER = "Idempotency-Key"
KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"
"""Printable ASCII without spaces, as the IETF draft's examples and Stripe's keys (UUIDs fit)."""


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class IdempotentRequest:
    """One request's key and body, as digests."""

    api_key: str
    key_sha256: str
    request_sha256: str

    @classmethod
    def of(cls, api_key: str, key: str, route: str, body: Any) -> IdempotentRequest:
        canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
        return cls(api_key, _sha256(key), _sha256(f"{route}\n{canonical}"))


def key_reused() -> RequestValidationError:
    return RequestValidationError([{
        "loc": ("header", HEADER), "type": "idempotency_key_reused",
        "msg": "this Idempotency-Key was sent before with another request body; a key names one request: "
               "send a new key for a new request"}])


def stored_document(session: Session, request: IdempotentRequest, now: dt.datetime | None = None) -> str | None:
    """The id of the document this key already made, or None; 422 when the key came with another body."""
    row = session.scalar(select(IdempotencyKey).where(
        IdempotencyKey.api_key == request.api_key, IdempotencyKey.key_sha256 == request.key_sha256,
        IdempotencyKey.expires_at > (now or utcnow())))
    if row is None:
        return None
    if row.request_sha256 != request.request_sha256:
        raise key_reused()
    return row.document_id


def record_with(session: Session, request: IdempotentRequest, ttl_s: int) -> None:
    """Store the key in the transaction that stores the next new document of ``session``.

    An expired row of the same key is deleted in that flush, so the key can be used again after its
    expiry. Both writes happen in the flush (inside the commit's write lock), never before it: an
    early write would hold SQLite's lock while this request waits for the process's write lock.
    """
    now = utcnow()
    row = IdempotencyKey(api_key=request.api_key, key_sha256=request.key_sha256,
                         request_sha256=request.request_sha256, created_at=now,
                         expires_at=now + dt.timedelta(seconds=ttl_s))

    def attach(flushing: Session, _context: object, _instances: object) -> None:
        new_document = next((o for o in flushing.new if isinstance(o, Document)), None)
        if new_document is not None and row.document_id is None:  # the session's first new document only
            flushing.execute(delete(IdempotencyKey).where(
                IdempotencyKey.api_key == request.api_key, IdempotencyKey.key_sha256 == request.key_sha256,
                IdempotencyKey.expires_at <= utcnow()))
            row.document_id = new_document.id
            flushing.add(row)

    event.listen(session, "before_flush", attach)


def purge_expired(session: Session) -> int:
    """Delete expired keys; the number deleted."""
    result = session.execute(delete(IdempotencyKey).where(IdempotencyKey.expires_at <= utcnow()))
    session.commit()
    return result.rowcount or 0
