"""Alta's command line: migrations, API keys and the server (``python -m backend --help``)."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from backend.core.config import Settings, get_settings
from backend.core.logging import configure_logging
from backend.db import migrate
from backend.db.session import make_engine, make_sessionmaker
from backend.services import apikeys, users


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


def _read_password(args: argparse.Namespace) -> str | None:
    """The new user's password: from --password-file, else asked twice on the terminal (never an argument,
    which would sit in the shell history and the process list)."""
    if args.password_file is not None:
        return args.password_file.read_text(encoding="utf-8").rstrip("\n")
    import getpass

    first = getpass.getpass("password: ")
    if first != getpass.getpass("password again: "):
        print("error: the passwords differ", file=sys.stderr)
        return None
    return first


def cmd_create_user(settings: Settings, args: argparse.Namespace) -> int:
    password = _read_password(args)
    if password is None:
        return 2
    with _sessions(settings)() as session:
        try:
            user = users.create_user(session, username=args.username, name=args.name, role=args.role,
                                     password=password, registry_type=args.registry_type,
                                     registry_number=args.registry_number)
        except users.DomainError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    print(f"user {user.username!r} ({users.ROLE_LABELS[user.role]}) created; they sign in on the page")
    return 0


def cmd_update_user(settings: Settings, args: argparse.Namespace) -> int:
    password = _read_password(args) if args.reset_password else None
    if args.reset_password and password is None:
        return 2
    active = True if args.enable else False if args.disable else None
    with _sessions(settings)() as session:
        user = users.find_user(session, args.username)
        if user is None:
            print("error: no user with that username (python -m backend list-users)", file=sys.stderr)
            return 2
        try:
            users.update_user(session, user.id, active=active, role=args.role, password=password)
        except users.DomainError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    done = [w for w, on in (("enabled", args.enable), ("disabled and signed out", args.disable),
                            (f"role {args.role}", args.role), ("password reset and unlocked", password)) if on]
    print(f"user {user.username!r}: {', '.join(done) or 'unchanged'}")
    return 0


def cmd_list_users(settings: Settings, _args: argparse.Namespace) -> int:
    with _sessions(settings)() as session:
        for u in users.list_users(session):
            registry = f"{u.registry_type} {u.registry_number}" if u.registry_number else "-"
            print(f"{u.id}\t{u.username}\t{u.name}\t{u.role}\t{registry}\t{'active' if u.active else 'disabled'}")
    return 0


DEV_USERNAME = "medico"


def cmd_dev_user(settings: Settings, _args: argparse.Namespace) -> int:
    """Create the development doctor once; its credentials are kept in <data_dir>/dev-user (mode 600)."""
    import secrets

    if settings.environment != "development":
        print("error: dev-user is for ALTA_ENVIRONMENT=development; use create-user", file=sys.stderr)
        return 2
    path = settings.dev_user_file
    with _sessions(settings)() as session:
        existing = users.find_user(session, DEV_USERNAME)
        if existing is not None and path.exists():
            print(f"development doctor: user {DEV_USERNAME!r}, password in {path}")
            return 0
        password = secrets.token_urlsafe(12)
        if existing is not None:  # the file was lost: a new password, printed once
            users.update_user(session, existing.id, password=password, active=True)
        else:
            users.create_user(session, username=DEV_USERNAME, name="Dra. Ana Pérez (desarrollo)", role="medico",
                              password=password, registry_type="RNPI", registry_number="DEV-0001")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"{DEV_USERNAME}\n{password}\n")
    print(f"development doctor (médico), printed once and kept in {path}:\n"
          f"  user: {DEV_USERNAME}\n  password: {password}")
    return 0


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from backend.app import create_app
    from backend.core.http import DeadlineH11Protocol

    configure_logging(settings.log_level)
    # h11 with a deadline on request heads; idle keep-alive connections closed; the body's deadline
    # and size limit are the app's (backend.api.middleware).
    uvicorn.run(create_app(settings), host=args.host or settings.host, port=args.port or settings.port,
                log_config=None, access_log=False, workers=1,
                http=DeadlineH11Protocol.with_timeout(settings.http_header_timeout_s),
                timeout_keep_alive=settings.http_keep_alive_s, h11_max_incomplete_event_size=64 * 1024)
    return 0


VLLM_COMMAND_MOVED = "error: vllm-command moved to the training command line: python -m training vllm-command"


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
    cu = sub.add_parser("create-user", help="create a person who signs in on the page (the first administrator, "
                                            "a médico...); the password is asked on the terminal")
    cu.add_argument("--username", required=True, help="what they type to sign in: lowercase, e.g. 'aperez'")
    cu.add_argument("--name", required=True, help="as printed under a signature, e.g. 'Dra. Ana Pérez'")
    cu.add_argument("--role", required=True, choices=users.ROLES,
                    help="medico: drafts, edits, signs; enfermeria/administrativo: read, print; "
                         "administrador: users, keys, audit")
    cu.add_argument("--registry-type", default=None, help="RNPI (Chile), 'cédula profesional' (México); médicos need one")
    cu.add_argument("--registry-number", default=None, help="the professional registry number")
    cu.add_argument("--password-file", type=Path, default=None,
                    help="read the password from this file instead of the terminal (scripts)")
    cu.set_defaults(func=cmd_create_user)
    sub.add_parser("list-users", help="list users (never passwords)").set_defaults(func=cmd_list_users)
    uu = sub.add_parser("update-user", help="disable or enable a user, reset a password (asked on the terminal), "
                                            "change a role; disabling or a reset signs them out everywhere")
    uu.add_argument("--username", required=True)
    state = uu.add_mutually_exclusive_group()
    state.add_argument("--disable", action="store_true", help="refuse their sign-in and end their sessions")
    state.add_argument("--enable", action="store_true")
    uu.add_argument("--role", default=None, choices=users.ROLES)
    uu.add_argument("--reset-password", action="store_true", help="a new password (also lifts a lockout)")
    uu.add_argument("--password-file", type=Path, default=None, help="with --reset-password: read it from this file")
    uu.set_defaults(func=cmd_update_user)

    sub.add_parser("dev-user", help="create the development doctor once (development only)").set_defaults(
        func=cmd_dev_user)
    serve = sub.add_parser("serve", help="start the API server")
    serve.add_argument("--host", default=None, help="default ALTA_HOST (127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="default ALTA_PORT (8000)")
    serve.set_defaults(func=cmd_serve)
    # Listed for --help only: the command reads training configs, so it lives in training's CLI.
    sub.add_parser("vllm-command", add_help=False, help="moved: python -m training vllm-command")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["vllm-command"]:
        print(VLLM_COMMAND_MOVED + (" " + shlex.join(argv[1:]) if argv[1:] else ""), file=sys.stderr)
        return 2
    args = make_parser().parse_args(argv)
    return args.func(get_settings(), args)
