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


VLLM_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)
"""The values vLLM accepts for --max-lora-rank."""


def vllm_serve_command(configs: list[Path], merged_base: str, adapters: dict[str, str] | None = None, *,
                       served_model_name: str = "alta-base", gpu_memory_utilization: float = 0.90,
                       port: int = 8000, host: str | None = None, tensor_parallel_size: int = 1) -> list[str]:
    """``vllm serve`` for ``merged_base`` with one LoRA adapter per training config, as argv.

    --max-lora-rank is the trained rank (rounded up to a value vLLM accepts), --max-model-len the
    longest trained sequence, --max-loras the adapter count (vLLM's default of 1 would make the tasks
    take turns), and --generation-config vllm stops the base's generation_config.json (Qwen2.5's
    repetition_penalty, top_k) from changing what the adapters were trained and evaluated with.
    """
    from training.config import load_config  # PyYAML and dataclasses only: no torch

    adapters = dict(adapters or {})
    loaded = [(path, load_config(path)) for path in configs]
    for path, cfg in loaded:
        if not cfg.lora.enabled:
            raise ValueError(f"{path} trains the whole model (lora.enabled: false): serve its final/ directory "
                             "as the model itself, with no --enable-lora")
    tasks = [cfg.data.task for _, cfg in loaded]
    if len(set(tasks)) != len(tasks):
        raise ValueError(f"two configs train the same task ({', '.join(tasks)}); give one config per task")
    bases = {cfg.model.base_model for _, cfg in loaded}
    if len(bases) > 1:
        trained_on = "; ".join(f"{path} on {cfg.model.base_model}" for path, cfg in loaded)
        raise ValueError(f"adapters trained on different bases cannot share one vLLM server ({trained_on}): run "
                         "this command once per base, one server each, and list every server in "
                         "ALTA_VLLM_BASE_URLS (each task goes to the servers whose /v1/models lists it)")
    unknown = sorted(set(adapters) - set(tasks))
    if unknown:
        raise ValueError(f"--adapter names {', '.join(unknown)}, which no --config trains ({', '.join(tasks)})")
    rank = max(cfg.lora.r for _, cfg in loaded)
    max_rank = next((r for r in VLLM_LORA_RANKS if r >= rank), None)
    if max_rank is None:
        raise ValueError(f"lora.r {rank} is above vLLM's largest --max-lora-rank ({VLLM_LORA_RANKS[-1]})")
    if not 0 < gpu_memory_utilization <= 1:
        raise ValueError("--gpu-memory-utilization is a share of the GPU's memory: above 0, at most 1")
    modules = [f"{cfg.data.task}={adapters.get(cfg.data.task, f'{cfg.train.output_dir}/final')}" for _, cfg in loaded]
    argv = ["vllm", "serve", merged_base, "--served-model-name", served_model_name,
            "--enable-lora", "--lora-modules", *modules, "--max-lora-rank", str(max_rank),
            "--max-loras", str(len(modules)), "--max-model-len", str(max(cfg.data.max_length for _, cfg in loaded)),
            "--gpu-memory-utilization", f"{gpu_memory_utilization:g}", "--generation-config", "vllm"]
    if tensor_parallel_size > 1:
        argv += ["--tensor-parallel-size", str(tensor_parallel_size)]
    if host:
        argv += ["--host", host]
    return argv + ["--port", str(port)]


def cmd_vllm_command(_settings: Settings, args: argparse.Namespace) -> int:
    adapters = {}
    for pair in args.adapter:
        task, sep, path = pair.partition("=")
        if not sep or not task or not path:
            print(f"error: --adapter {pair!r} must look like TASK=PATH", file=sys.stderr)
            return 2
        adapters[task] = path
    try:
        argv = vllm_serve_command(args.config, args.merged_base, adapters, served_model_name=args.served_model_name,
                                  gpu_memory_utilization=args.gpu_memory_utilization, port=args.port,
                                  host=args.host, tensor_parallel_size=args.tensor_parallel_size)
    except ModuleNotFoundError as exc:
        print(f"error: reading training configs needs {exc.name}: pip install pyyaml==6.0.3", file=sys.stderr)
        return 2
    except (OSError, ValueError) as exc:  # training.config.ConfigError is a ValueError
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(shlex.join(argv))
    print(f"# then point Alta at it: ALTA_VLLM_BASE_URLS='[\"http://<this host>:{args.port}\"]' and "
          "ALTA_ENGINES='[\"vllm\", \"onnx\", \"template\"]'", file=sys.stderr)
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
    vllm = sub.add_parser("vllm-command", help="print the `vllm serve` command for a base model and the LoRA "
                                               "adapters of training configs")
    vllm.add_argument("--config", type=Path, action="append", required=True,
                      help="an adapter's training config (repeat per task), e.g. "
                           "training/configs/epicrisis-qwen2.5-1.5b-lora.yaml")
    vllm.add_argument("--merged-base", required=True,
                      help="the full-precision base the adapters were trained on, as a path on the GPU host "
                           "(a local copy of model.base_model; never a 4-bit one)")
    vllm.add_argument("--adapter", action="append", default=[], metavar="TASK=PATH",
                      help="the adapter's directory on the GPU host (default: <train.output_dir>/final)")
    vllm.add_argument("--served-model-name", default="alta-base", help="the base model's name in /v1/models")
    vllm.add_argument("--gpu-memory-utilization", type=float, default=0.90,
                      help="share of GPU memory vLLM may take (weights plus KV cache)")
    vllm.add_argument("--tensor-parallel-size", type=int, default=1, help="GPUs of one node that share the model")
    vllm.add_argument("--host", default=None, help="interface to listen on (vLLM's default: all)")
    vllm.add_argument("--port", type=int, default=8000)
    vllm.set_defaults(func=cmd_vllm_command)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    return args.func(get_settings(), args)
