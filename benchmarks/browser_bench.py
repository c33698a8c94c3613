"""In-browser drafting speed: Transformers.js (WASM, headless Chromium) next to the Python ONNX engine.

For each dtype, on the same bundle and the same golden prompt: load time, peak memory, time to first
token (tokenise + prefill + first pick) and decode tokens per second, in the browser with and
without cross-origin isolation (isolated pages get SharedArrayBuffer and several WASM threads), and
in Python's ONNX Runtime engine with as many threads as the browser (default: the machine's cores).
The browser's greedy tokens are compared with Python's on the way. Without ``--bundle`` a random
tiny Qwen2 is exported first.

Bundles of any size: the model files come from Alta's own server (a real HTTP server that streams
files and sends COOP/COEP), never through Playwright. The non-isolated run strips COOP/COEP from the
page's HTML document only (that alone decides ``crossOriginIsolated``), so a multi-GB graph is never
buffered by the test driver (Playwright's ``route.fulfill`` holds a whole body and fails past 512 MB).

Memory: Python's is the peak resident set (VmHWM) of a fresh process that loads the engine and
decodes; the browser's is the peak resident set of the page's renderer process (where the worker
and its WASM heap live), both read from /proc (Linux).

    .venv/bin/python -m benchmarks.browser_bench                       # tiny bundle, fp32 and q4
    .venv/bin/python -m benchmarks.browser_bench --bundle models/demo-onnx --dtypes fp32,q4,q4f16
    .venv/bin/python -m benchmarks.browser_bench --bundle <0.5B bundle> --dtypes q8,q4 --isolation isolated \\
        --new-tokens 32 --repeats 1 --ort-log
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from devtools import REPO
from devtools.browser import CHROMIUM, CHROMIUM_ARGS, build_webapp, start_server
from export.catalog import register

STRIPPED = {"cross-origin-opener-policy", "cross-origin-embedder-policy"}
ORT_LOG_WORDS = ("MatMulNBits", "Falling back", "unpacked compute", "MLAS", "fallback")


@dataclass
class Row:
    runtime: str
    dtype: str
    threads: int
    load_s: float
    peak_mb: float
    ttft_ms: float
    decode_tok_s: float
    step_ms: float = float("nan")  # median wall time of one decode step
    ort_share: float = float("nan")  # the share of decode time spent inside ONNX Runtime's session.run
    same_tokens: str = ""


def _peak_rss_mb(pid: int | str = "self") -> float:
    """The process's peak resident set (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _python_child(bundle: str, dtype: str, prompt_ids: list[int], new_tokens: int, repeats: int, threads: int) -> dict:
    """Runs in a fresh process, so its peak memory is this engine's alone."""
    from backend.engines.bundle import open_bundle
    from backend.engines.decoding import SamplingParams
    from backend.engines.onnx import OnnxEngine

    started = time.perf_counter()
    engine = OnnxEngine(open_bundle(Path(bundle), dtype), threads=threads)
    load_s = time.perf_counter() - started
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
    return {"load_s": load_s, "peak_mb": _peak_rss_mb(), "ttft_ms": statistics.median(ttfts[1:]),
            "rate": statistics.median(rates[1:]), "ids": ids}


def python_onnx(bundle: Path, dtype: str, prompt_ids: list[int], new_tokens: int, repeats: int,
                threads: int) -> tuple[Row, list[int]]:
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        r = pool.apply(_python_child, (str(bundle), dtype, prompt_ids, new_tokens, repeats, threads))
    return Row("python onnxruntime", dtype, threads, r["load_s"], r["peak_mb"], r["ttft_ms"], r["rate"]), r["ids"]


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(proc.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def renderer_peaks_mb() -> dict[int, float]:
    """Peak RSS of every Chromium renderer process this benchmark started."""
    peaks = {}
    for pid in _descendants(os.getpid()):
        try:
            if b"--type=renderer" in Path(f"/proc/{pid}/cmdline").read_bytes():
                peaks[pid] = _peak_rss_mb(pid)
        except OSError:
            continue
    return peaks


def browser(chromium, url: str, dtype: str, prompt: str, new_tokens: int, repeats: int, isolated: bool,
            threads: int | None, ort_log: set[str], query: str = "") -> tuple[Row, list[int]]:
    context = chromium.new_context(service_workers="block")
    if not isolated:
        def strip(route):
            response = route.fetch()  # the page's HTML only: a few kB
            headers = {k: v for k, v in response.headers.items() if k.lower() not in STRIPPED}
            route.fulfill(response=response, headers=headers)
        context.route(lambda u: urlsplit(u).path in ("/", "/index.html"), strip)
    before = set(renderer_peaks_mb())
    page = context.new_page()
    page.on("console", lambda msg: ort_log.add(msg.text[:400]) if any(w in msg.text for w in ORT_LOG_WORDS) else None)
    try:
        pin = (f"&threads={threads}" if threads else "") + (f"&{query}" if query else "")
        page.goto(f"{url}/?device=wasm&dtype={dtype}{pin}")
        page.wait_for_selector("body[data-ready=true]", state="attached", timeout=120_000)
        assert page.evaluate("crossOriginIsolated") is isolated
        page.check("input[name=engine][value=browser]")
        page.wait_for_selector("body[data-model=ready], body[data-model=failed]", state="attached", timeout=1_800_000)
        if page.evaluate("document.body.dataset.model") == "failed":  # a refusal or an ORT error, at once
            raise SystemExit(f"{dtype}: the page could not load the model: {page.inner_text('#status')[:300]}")
        info = page.evaluate("window.alta.model")
        runs = [page.evaluate("""async ([prompt, n]) =>
            await window.alta.engine.generate(prompt, { maxNewTokens: n, stopAtEos: false })""", [prompt, new_tokens])
            for _ in range(repeats + 1)][1:]
        peak = max((mb for pid, mb in renderer_peaks_mb().items() if pid not in before), default=float("nan"))
    finally:
        context.close()
    ttft = statistics.median(r["ttft_ms"] for r in runs)
    rate = statistics.median((len(r["token_ids"]) - 1) / (r["decode_ms"] / 1000) for r in runs)
    label = ("chromium wasm, isolated" if isolated else "chromium wasm, not isolated") + (f" {query}" if query else "")
    step = statistics.median(r["step_ms"] for r in runs)
    share = statistics.median(r["ort_decode_ms"] / r["decode_ms"] for r in runs)
    return (Row(label, dtype, info["threads"], info["load_ms"] / 1000, peak, ttft, rate, step, share),
            runs[-1]["token_ids"])


HEADER = (f"{'runtime':28} {'dtype':6} {'threads':>7} {'load s':>7} {'peak MB':>8} {'TTFT ms':>9} "
          f"{'decode tok/s':>13} {'vs python':>10} {'step ms':>8} {'in ORT':>7} {'tokens':>7}")


def line(r: Row, rows: list[Row]) -> str:
    base = {x.dtype: x for x in rows if x.runtime == "python onnxruntime"}
    ratio = r.decode_tok_s / base[r.dtype].decode_tok_s if r.dtype in base else float("nan")
    return (f"{r.runtime:28} {r.dtype:6} {r.threads:>7} {r.load_s:>7.1f} {r.peak_mb:>8.0f} {r.ttft_ms:>9.1f} "
            f"{r.decode_tok_s:>13.2f} {ratio:>9.2f}x {r.step_ms:>8.1f} {r.ort_share:>7.0%} {r.same_tokens:>7}")


def table(rows: list[Row]) -> str:
    return "\n".join([HEADER, *(line(r, rows) for r in rows)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.browser_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, help="an exported bundle (default: a random tiny Qwen2, exported now)")
    parser.add_argument("--dtypes", default="fp32,q4", help="dtypes to time, comma-separated")
    parser.add_argument("--new-tokens", type=int, default=128, help="tokens generated per run (end of turn ignored)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per configuration (median), after one warm-up")
    parser.add_argument("--record", default="neumonia_chile", help="golden record whose prompt is used")
    parser.add_argument("--isolation", choices=("both", "isolated", "not-isolated"), default="both",
                        help="browser runs with COOP/COEP (several WASM threads), without (one thread), or both")
    parser.add_argument("--threads", type=int, default=None,
                        help="WASM threads in the isolated page (the page's ?threads=; default: the page's own choice) "
                             "and Python's intra-op threads (default: the machine's cores)")
    parser.add_argument("--ort-log", action="store_true",
                        help="print ONNX Runtime's console warnings about MatMulNBits / MLAS (the 4-bit kernel path)")
    parser.add_argument("--page-query", action="append", default=[],
                        help="extra page parameters for a further isolated run, e.g. threads=1 or ort=asyncify "
                             "(repeatable: one run each)")
    parser.add_argument("--skip-python", action="store_true", help="time the browser only")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    if args.bundle is None:
        from devtools.export_testing import tiny_bundle

        args.bundle = tiny_bundle(dtypes=tuple(args.dtypes.split(","))).out
    manifest = json.loads((args.bundle / "manifest.json").read_text(encoding="utf-8"))
    golden = json.loads((REPO / "models/contract/golden.json").read_text(encoding="utf-8"))
    prompt = next(v["prompt"] for v in golden if v["name"] == args.record)
    # The prompt as the page tokenises it now (the bundle's manifest holds the ids of the contract it was
    # exported under, which may be older): both runtimes must decode from the same ids.
    from tokenizers import Tokenizer

    prompt_ids = Tokenizer.from_file(str(args.bundle / "tokenizer.json")).encode(prompt, add_special_tokens=False).ids
    py_threads = args.threads or os.cpu_count() or 1
    print(f"bundle {manifest['name']} {manifest['version']}, prompt {args.record} ({len(prompt_ids)} tokens), "
          f"{args.new_tokens} new tokens, median of {args.repeats} runs, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.2f}")

    print(HEADER, flush=True)
    rows: list[Row] = []
    ort_log: set[str] = set()
    isolations = {"both": (True, False), "isolated": (True,), "not-isolated": (False,)}[args.isolation]
    with tempfile.TemporaryDirectory(prefix="alta-browser-bench-") as tmp:
        models = Path(tmp, "models")
        models.mkdir()
        register(models / "catalog.json", args.bundle.resolve(), manifest, ["epicrisis"])
        server = start_server(Path(tmp), models, build_webapp())
        try:
            with sync_playwright() as p:
                chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                for dtype in args.dtypes.split(","):
                    expected = None
                    if not args.skip_python:
                        python_row, expected = python_onnx(args.bundle, dtype, prompt_ids, args.new_tokens,
                                                           args.repeats, py_threads)
                        rows.append(python_row)
                        print(line(python_row, rows), flush=True)
                    for isolated in isolations:
                        row, ids = browser(chromium, server.url, dtype, prompt, args.new_tokens, args.repeats,
                                           isolated, args.threads if isolated else None, ort_log)
                        row.same_tokens = "" if expected is None else "same" if ids == expected else "DIFFER"
                        rows.append(row)
                        print(line(row, rows), flush=True)
                    for query in args.page_query:
                        row, ids = browser(chromium, server.url, dtype, prompt, args.new_tokens, args.repeats,
                                           True, None, ort_log, query)
                        row.same_tokens = "" if expected is None else "same" if ids == expected else "DIFFER"
                        rows.append(row)
                        print(line(row, rows), flush=True)
                chromium.close()
        finally:
            server.live.stop()
    print("\n" + table(rows))
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    if args.ort_log:
        print("ONNX Runtime Web console lines about the 4-bit path:" if ort_log else
              "ONNX Runtime Web printed nothing about MatMulNBits / MLAS")
        for text in sorted(ort_log):
            print("  " + text)
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ for r in rows], indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
