"""`make bench` load figures: POST /api/v1/epicrisis at 8, 64 and 256 clients, per engine.

For each engine a live server (uvicorn, one worker, SQLite WAL, default admission limits unless
given) serves that engine alone, so no fallback hides it. Each client sends a request as soon as
its last one is answered, and waits ``Retry-After`` (up to the end of the run) after a 429/503, as
a well-behaved EHR client does. Reported per level: requests answered, drafts stored (201),
requests turned away (429/503), other errors, stored drafts per second, and p50/p99 latency of the
stored ones. The client runs on the same machine as the server: on a 2-core machine the figures
are a floor for a dedicated server.

Engines: ``template`` always; ``onnx`` when ``models/catalog.json`` names a bundle; ``vllm`` when
``ALTA_VLLM_BASE_URLS`` is set. One that is not configured is listed as skipped, with why.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from backend.db import migrate
from backend.db.session import make_engine, make_sessionmaker
from backend.engines.bundle import load_catalog
from backend.services import apikeys
from clinical.contract import example_records
from devtools import REPO, LiveServer

LEVELS = (8, 64, 256)


@dataclass
class Level:
    clients: int
    elapsed: float = 0.0
    statuses: Counter = field(default_factory=Counter)
    stored_latencies: list[float] = field(default_factory=list)
    transport_errors: int = 0

    @property
    def answered(self) -> int:
        return sum(self.statuses.values())

    @property
    def refused(self) -> int:
        return self.statuses[429] + self.statuses[503]

    @property
    def errors(self) -> int:
        return self.answered - self.statuses[201] - self.refused + self.transport_errors


def percentile(values: list[float], q: int) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


async def run_level(url: str, token: str, body: dict, clients: int, seconds: float) -> Level:
    level = Level(clients)
    # keepalive_expiry under uvicorn's 5 s keep-alive: no request is sent on a connection it is closing.
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients, keepalive_expiry=2)
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, limits=limits,
                                 timeout=httpx.Timeout(120, pool=None)) as http:
        deadline = time.perf_counter() + seconds

        async def client() -> None:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    response = await http.post("/api/v1/epicrisis", json=body)
                except httpx.TransportError:
                    level.transport_errors += 1
                    continue
                level.statuses[response.status_code] += 1
                if response.status_code == 201:
                    level.stored_latencies.append(time.perf_counter() - started)
                elif response.status_code in (429, 503):
                    wait = float(response.headers.get("retry-after", "1"))
                    await asyncio.sleep(max(0.0, min(wait, deadline - time.perf_counter())))

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        level.elapsed = time.perf_counter() - started
    return level


def configured_engines(models_dir: Path) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """Engines to measure (name -> extra server environment) and the skipped ones (name -> why)."""
    run: dict[str, dict[str, str]] = {"template": {}}
    skipped: dict[str, str] = {}
    entries = load_catalog(models_dir)[0] if (models_dir / "catalog.json").exists() else []
    if any("epicrisis" in e.tasks for e in entries):
        concurrency = os.environ.get("ALTA_ONNX_MAX_CONCURRENCY", "2")
        # Requests wait in the admission queue for the engine's slots instead of bouncing off a busy engine.
        run["onnx"] = {"ALTA_ONNX_MAX_CONCURRENCY": concurrency, "ALTA_MAX_INFLIGHT_GENERATIONS": concurrency,
                       "ALTA_MODELS_DIR": str(models_dir.resolve())}
    else:
        skipped["onnx"] = f"no epicrisis bundle in {models_dir / 'catalog.json'} (make demo-bundle adds one)"
    if os.environ.get("ALTA_VLLM_BASE_URLS"):
        run["vllm"] = {k: v for k, v in os.environ.items() if k.startswith("ALTA_VLLM_")}
    else:
        skipped["vllm"] = "ALTA_VLLM_BASE_URLS is not set (no vLLM server to measure)"
    return run, skipped


def bench_engine(engine: str, env: dict[str, str], levels: list[int], seconds: float,
                 limits: dict[str, str]) -> list[Level]:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        url = f"sqlite:///{data / 'alta.db'}"
        migrate.upgrade(url)
        db = make_engine(url)
        with make_sessionmaker(db)() as session:
            token = apikeys.create_key(session, "bench", ["generate"])
        db.dispose()
        server = LiveServer(data, {"ALTA_ENGINES": f'["{engine}"]', "ALTA_LOG_LEVEL": "WARNING", **limits, **env})
        server.start()
        try:
            body = {"record": example_records()["neumonia_chile"]}
            asyncio.run(run_level(server.url, token, body, 2, min(2.0, seconds)))  # warm-up, not reported
            return [asyncio.run(run_level(server.url, token, body, clients, seconds)) for clients in levels]
        finally:
            server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each load level")
    parser.add_argument("--clients", type=int, nargs="+", default=list(LEVELS), help="concurrency levels")
    parser.add_argument("--engines", nargs="+", default=None, help="only these of the configured engines")
    parser.add_argument("--models-dir", type=Path, default=REPO / "models", help="where catalog.json is")
    parser.add_argument("--max-inflight", default=None, help="ALTA_MAX_INFLIGHT_GENERATIONS for the server")
    parser.add_argument("--max-queued", default=None, help="ALTA_MAX_QUEUED_GENERATIONS for the server")
    args = parser.parse_args(argv)

    run, skipped = configured_engines(args.models_dir)
    if args.engines:
        run = {k: v for k, v in run.items() if k in args.engines}
    limits = {k: v for k, v in {"ALTA_MAX_INFLIGHT_GENERATIONS": args.max_inflight,
                                "ALTA_MAX_QUEUED_GENERATIONS": args.max_queued}.items() if v is not None}
    print("POST /api/v1/epicrisis under load, per engine (live server: uvicorn, 1 worker, SQLite WAL; "
          f"client on the same machine; {args.seconds:g} s per level; clients honour Retry-After)")
    for engine, why in skipped.items():
        print(f"  {engine}: skipped, {why}")
    for engine, env in run.items():
        print(f"\n{engine}")
        print(f"{'clients':>8}{'answered':>10}{'stored':>8}{'429/503':>9}{'errors':>8}{'stored/s':>10}"
              f"{'p50 ms':>9}{'p99 ms':>9}")
        for level in bench_engine(engine, env, args.clients, args.seconds, limits):
            print(f"{level.clients:>8}{level.answered:>10}{level.statuses[201]:>8}{level.refused:>9}{level.errors:>8}"
                  f"{level.statuses[201] / level.elapsed:>10.1f}{percentile(level.stored_latencies, 50) * 1000:>9.1f}"
                  f"{percentile(level.stored_latencies, 99) * 1000:>9.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
