"""Database engine and sessions: SQLite (WAL) by default, PostgreSQL by URL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool


def make_engine(url: str, pool_size: int = 10, sqlite_synchronous: str = "NORMAL") -> Engine:
    """An engine for ``url``; ``sqlite_synchronous`` (NORMAL or FULL) is SQLite's durability on power loss."""
    if sqlite_synchronous not in ("NORMAL", "FULL"):
        raise ValueError("ALTA_SQLITE_SYNCHRONOUS must be NORMAL or FULL")
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
    in_memory = not parsed.database or parsed.database == ":memory:"
    if not in_memory:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    # A SQLite file needs no pool: opening it costs microseconds, and a bounded pool can deadlock
    # FastAPI under load (requests that hold a connection until their response is validated in
    # the thread pool, while every pool thread waits for a connection). An in-memory database
    # lives in its one connection, so it keeps SQLAlchemy's default pool.
    pool = {} if in_memory else {"poolclass": NullPool}
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **pool)
    event.listen(engine, "connect", lambda connection, _record: _sqlite_pragmas(connection, sqlite_synchronous))
    return engine


def _sqlite_pragmas(dbapi_connection, synchronous: str) -> None:  # noqa: ANN001 - DB-API connection
    # WAL lets readers work while one writer commits; busy_timeout makes a second writer wait
    # instead of failing with "database is locked"; foreign keys are off by default in SQLite.
    # synchronous NORMAL (in WAL) survives a crash of the process; FULL also a power loss.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA synchronous={synchronous}")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


_SQLITE_WRITE_LOCK = threading.Lock()


def write_lock(session: Session) -> AbstractContextManager[object]:
    """Serialise this process's write transactions on SQLite; a no-op on PostgreSQL.

    SQLite has one writer at a time. Without this, concurrent requests collide and SQLite's busy
    handler sleeps in growing steps (up to 100 ms each), which shows up as a long latency tail.
    busy_timeout still covers writers in other processes.
    """
    return _SQLITE_WRITE_LOCK if session.get_bind().dialect.name == "sqlite" else nullcontext()


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    with factory() as session:
        yield session
