"""Alta's command line: migrations, API keys and the server (``python -m backend --help``)."""

from __future__ import annotations

import argparse
import os
import sys

from backend.core.config import Settings, get_settings
from backend.core.logging import configure_logging
from backend.db import migrate
from backend.db.session import make_engine, make_sessionmaker
from backend.services import apikeys


def _sessions(settings: Settings):
    return make_sessionmaker(make_engine(settings.resolved_database_url))


def cmd_migrate(settings: Settings, _args: argparse.Namespace) -> int:
    migrate.upgrade(settings.resolved_database_url)
    print("database migrated to the current schema")
    return 0


def cmd_create_key(settings: Settings, args: argparse.Namespace) -> int:
    with _sessions(settings)() as session:
        try:
            key = apikeys.create_key(session, args.name, args.scopes)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    print(f"API key {args.name!r} ({' '.join(args.scopes)}); shown once, store it now:\n{key}")
    return 0


def cmd_revoke_key(settings: Settings, args: argparse.Namespace) -> int:
    with _sessions(settings)() as session:
        if not apikeys.revoke_key(session, args.name):
            print(f"error: no active API key named {args.name!r}", file=sys.stderr)
            return 2
    print(f"revoked {args.name!r}")
    return 0


def cmd_list_keys(settings: Settings, _args: argparse.Namespace) -> int:
    with _sessions(settings)() as session:
        for row in apikeys.list_keys(session):
            state = f"revoked {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "active"
            print(f"{row.name}\t{row.scopes}\t{state}\tcreated {row.created_at:%Y-%m-%d}")
    return 0


def cmd_dev_key(settings: Settings, _args: argparse.Namespace) -> int:
    """Create the development key once; it is kept in <data_dir>/dev-api-key (mode 600)."""
    if settings.environment != "development":
        print("error: dev-key is for ALTA_ENVIRONMENT=development; use create-key", file=sys.stderr)
        return 2
    path = settings.dev_key_file
    with _sessions(settings)() as session:
        if path.exists() and apikeys.authenticate(session, path.read_text().strip()):
            print(f"development API key: in {path} (use: -H \"Authorization: Bearer $(cat {path})\")")
            return 0
        apikeys.revoke_key(session, "development")
        name = "development"
        existing = {k.name for k in apikeys.list_keys(session)}
        suffix = 1
        while name in existing:
            suffix += 1
            name = f"development-{suffix}"
        key = apikeys.create_key(session, name, ["admin"])
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    print(f"development API key (admin scope), printed once and kept in {path}:\n{key}")
    return 0


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from backend.app import create_app

    configure_logging(settings.log_level)
    uvicorn.run(create_app(settings), host=args.host or settings.host, port=args.port or settings.port,
                log_config=None, access_log=False, workers=1)
    return 0


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m backend", description="Alta backend commands")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)
    create = sub.add_parser("create-key", help="create an API key for an EHR client (printed once)")
    create.add_argument("--name", required=True, help="who uses it, e.g. 'ehr-hospital-central'")
    create.add_argument("--scopes", nargs="+", default=["generate", "read"], choices=apikeys.SCOPES,
                        help="what it may do (default: generate read)")
    create.set_defaults(func=cmd_create_key)
    revoke = sub.add_parser("revoke-key", help="revoke an API key by name")
    revoke.add_argument("--name", required=True)
    revoke.set_defaults(func=cmd_revoke_key)
    sub.add_parser("list-keys", help="list API keys (names and scopes, never secrets)").set_defaults(func=cmd_list_keys)
    sub.add_parser("dev-key", help="create the development key once (development only)").set_defaults(func=cmd_dev_key)
    serve = sub.add_parser("serve", help="start the API server")
    serve.add_argument("--host", default=None, help="default ALTA_HOST (127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="default ALTA_PORT (8000)")
    serve.set_defaults(func=cmd_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    return args.func(get_settings(), args)
