"""`make bench`: template documents per second, then API throughput and latency on a live server.

Every figure in one run, on this machine, side by side. The load client runs on the same machine
as the server, so the API figures are a floor for a dedicated server.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from clinical.checks import check_draft
from clinical.contract import example_records
from clinical.record import HospitalStay
from clinical.writer import render_epicrisis
from devtools import LiveServer


def bench_template(seconds: float) -> list[tuple[str, float, float]]:
    """(record, documents/s rendering only, documents/s rendering + output checks)."""
    rows = []
    for name, raw in example_records().items():
        stay = HospitalStay.model_validate(raw)
        rates = []
        for with_checks in (False, True):
            count, started = 0, time.perf_counter()
            while time.perf_counter() - started < seconds:
                text = render_epicrisis(stay)
                if with_checks:
                    check_draft(stay, text)
                count += 1
            rates.append(count / (time.perf_counter() - started))
        rows.append((name, rates[0], rates[1]))
    return rows


async def _load(url: str, token: str, body: dict, clients: int, seconds: float) -> tuple[int, int, list[float], float]:
    latencies: list[float] = []
    failures = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"},
                                 limits=limits, timeout=60) as http:
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal failures
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await http.post("/api/v1/epicrisis", json=body)
                latencies.append(time.perf_counter() - started)
                failures += response.status_code != 201

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    return len(latencies), failures, latencies, elapsed


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="duration of each API load level")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 64], help="concurrency levels")
    args = parser.parse_args(argv)

    print("Template engine (in process, one core)")
    print(f"{'record':<22}{'docs/s':>10}{'docs/s + checks':>18}")
    for name, plain, checked in bench_template(2.0):
        print(f"{name:<22}{plain:>10.0f}{checked:>18.0f}")

    with tempfile.TemporaryDirectory() as tmp:
        server = LiveServer(Path(tmp), {"ALTA_ENGINES": "[\"template\"]"})
        server.cli("migrate")
        token = server.cli("create-key", "--name", "bench", "--scopes", "generate").stdout.strip().splitlines()[-1]
        server.start()
        try:
            body = {"record": example_records()["neumonia_chile"]}
            print("\nPOST /api/v1/epicrisis on a live server (uvicorn, 1 worker, SQLite WAL; client on the same machine)")
            print(f"{'clients':>8}{'requests':>10}{'errors':>8}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}")
            for clients in args.clients:
                done, failed, latencies, elapsed = asyncio.run(_load(server.url, token, body, clients, args.seconds))
                print(f"{clients:>8}{done:>10}{failed:>8}{done / elapsed:>9.1f}"
                      f"{percentile(latencies, 50) * 1000:>9.1f}{percentile(latencies, 99) * 1000:>9.1f}")
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
