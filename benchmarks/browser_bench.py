"""In-browser drafting speed: Transformers.js (WASM, headless Chromium) next to the Python ONNX engine.

For each dtype, on the same bundle and the same golden prompt: time to first token (tokenise +
prefill + first pick) and decode tokens per second, in the browser with and without cross-origin
isolation (isolated pages get SharedArrayBuffer and several WASM threads; the server sends
COOP/COEP, and the non-isolated run strips them in flight), and in Python's ONNX Runtime engine
with as many threads as the machine has cores. The browser's greedy tokens are compared with
Python's on the way. Without ``--bundle`` a random tiny Qwen2 is exported first.

    .venv/bin/python -m benchmarks.browser_bench                       # tiny bundle, fp32 and q4
    .venv/bin/python -m benchmarks.browser_bench --bundle models/demo-onnx --dtypes fp32,q4,q4f16
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from backend.engines.bundle import open_bundle
from backend.engines.decoding import SamplingParams
from backend.engines.onnx import OnnxEngine
from devtools import REPO
from export.catalog import register
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, build_webapp, start_server

STRIPPED = {"cross-origin-opener-policy", "cross-origin-embedder-policy"}


@dataclass
class Row:
    runtime: str
    dtype: str
    threads: int
    ttft_ms: float
    decode_tok_s: float
    same_tokens: str = ""


def python_onnx(bundle: Path, dtype: str, prompt_ids: list[int], new_tokens: int, repeats: int) -> tuple[Row, list[int]]:
    threads = os.cpu_count() or 1
    engine = OnnxEngine(open_bundle(bundle, dtype), threads=threads)
    params = SamplingParams(max_new_tokens=new_tokens)
    ttfts, rates, ids = [], [], []
    for _ in range(repeats + 1):  # the first run warms ONNX Runtime up and is not counted
        started = time.perf_counter()
        ids, first = [], None
        for token in engine.decoder.tokens(prompt_ids, params, frozenset()):
            first = first or time.perf_counter()
            ids.append(token)
        done = time.perf_counter()
        ttfts.append((first - started) * 1000)
        rates.append((len(ids) - 1) / (done - first))
    engine.close()
    return Row("python onnxruntime", dtype, threads, statistics.median(ttfts[1:]), statistics.median(rates[1:])), ids


def browser(chromium, url: str, dtype: str, prompt: str, new_tokens: int, repeats: int, isolated: bool) -> tuple[Row, list[int]]:
    context = chromium.new_context(service_workers="block")
    if not isolated:
        def strip(route):
            response = route.fetch()
            headers = {k: v for k, v in response.headers.items() if k.lower() not in STRIPPED}
            route.fulfill(response=response, headers=headers)
        context.route("**/*", strip)
    page = context.new_page()
    try:
        page.goto(f"{url}/?device=wasm&dtype={dtype}")
        page.wait_for_selector("body[data-ready=true]", state="attached", timeout=120_000)
        assert page.evaluate("crossOriginIsolated") is isolated
        page.check("input[name=engine][value=browser]")
        page.wait_for_selector("body[data-model=ready]", state="attached", timeout=300_000)
        info = page.evaluate("window.alta.model")
        runs = [page.evaluate("""async ([prompt, n]) =>
            await window.alta.engine.generate(prompt, { maxNewTokens: n, stopAtEos: false })""", [prompt, new_tokens])
            for _ in range(repeats + 1)][1:]
    finally:
        context.close()
    ttft = statistics.median(r["ttft_ms"] for r in runs)
    rate = statistics.median((len(r["token_ids"]) - 1) / (r["decode_ms"] / 1000) for r in runs)
    label = "chromium wasm, isolated" if isolated else "chromium wasm, not isolated"
    return Row(label, dtype, info["threads"], ttft, rate), runs[-1]["token_ids"]


def table(rows: list[Row]) -> str:
    base = {r.dtype: r for r in rows if r.runtime == "python onnxruntime"}
    lines = [f"{'runtime':30} {'dtype':6} {'threads':>7} {'TTFT ms':>9} {'decode tok/s':>13} {'vs python':>10} {'tokens':>7}"]
    for r in rows:
        ratio = r.decode_tok_s / base[r.dtype].decode_tok_s if r.dtype in base else float("nan")
        lines.append(f"{r.runtime:30} {r.dtype:6} {r.threads:>7} {r.ttft_ms:>9.1f} {r.decode_tok_s:>13.1f} "
                     f"{ratio:>9.2f}x {r.same_tokens:>7}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.browser_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, help="an exported bundle (default: a random tiny Qwen2, exported now)")
    parser.add_argument("--dtypes", default="fp32,q4", help="dtypes to time, comma-separated")
    parser.add_argument("--new-tokens", type=int, default=128, help="tokens generated per run (end of turn ignored)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per configuration (median), after one warm-up")
    parser.add_argument("--record", default="neumonia_chile", help="golden record whose prompt is used")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    if args.bundle is None:
        from devtools.export_testing import tiny_bundle

        args.bundle = tiny_bundle(dtypes=tuple(args.dtypes.split(","))).out
    manifest = json.loads((args.bundle / "manifest.json").read_text(encoding="utf-8"))
    golden = json.loads((REPO / "models/contract/golden.json").read_text(encoding="utf-8"))
    prompt = next(v["prompt"] for v in golden if v["name"] == args.record)
    prompt_ids = next(g["prompt_token_ids"] for g in manifest["contract"]["golden"] if g["name"] == args.record)
    print(f"bundle {manifest['name']} {manifest['version']}, prompt {args.record} ({len(prompt_ids)} tokens), "
          f"{args.new_tokens} new tokens, median of {args.repeats} runs, {os.cpu_count()} cores")

    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="alta-browser-bench-") as tmp:
        models = Path(tmp, "models")
        models.mkdir()
        register(models / "catalog.json", args.bundle.resolve(), manifest, ["epicrisis"])
        server = start_server(Path(tmp), models, build_webapp())
        try:
            with sync_playwright() as p:
                chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                for dtype in args.dtypes.split(","):
                    python_row, expected = python_onnx(args.bundle, dtype, prompt_ids, args.new_tokens, args.repeats)
                    rows.append(python_row)
                    for isolated in (True, False):
                        row, ids = browser(chromium, server.url, dtype, prompt, args.new_tokens, args.repeats, isolated)
                        row.same_tokens = "same" if ids == expected else "DIFFER"
                        rows.append(row)
                chromium.close()
        finally:
            server.live.stop()
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ for r in rows], indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
