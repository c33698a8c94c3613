"""The demo model with and without its record's grammar (issue 13), on held-out synthetic stays.

`python -m benchmarks.constrained_eval [--n 200]` (`make bench-constrained`): greedy decoding on
ONNX Runtime, as the backend serves it, over the demo model's test split (``synthetic_epicrisis_split``
with the demo's seed: its ``test`` records come from their own seeded generator, never from training's).
Rows: unconstrained; constrained as the server runs it (text the grammar forces fed in one run); and
constrained token by token (every token the model's masked pick, as the browser's logits processor
does). Columns:

- coverage, invented: as ``training.evaluate.score_epicrisis`` counts them (record items present;
  review findings about written drugs, doses and dates over all such mentions);
- identity exact: the record's name written as recorded and no identity finding (name, sex, age,
  birth date, identifiers, weight, service);
- pass: drafts with no review finding at all (``clinical.checks.check_draft``);
- tok/s: new tokens over the generation's wall time (prefill included), and model runs per draft;
- mask %: the share of the generation's time spent on the grammar (compiling it, filling token masks,
  accepting tokens, finding forced text).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from backend.engines.bundle import load_catalog, open_bundle
from backend.engines.onnx import OnnxEngine
from clinical.checks import check_draft
from clinical.contract import render_chatml
from clinical.grammar import GrammarOptions
from clinical.record import HospitalStay
from training.data import synthetic_epicrisis_split
from training.datasets import ChatExample, epicrisis_example
from training.demo import DemoSpec
from training.evaluate import score_epicrisis

MODES = ("unconstrained", "constrained", "token-by-token")


@dataclass
class Run:
    """What one mode's generations cost and wrote."""

    mode: str
    tokens: int = 0
    model_runs: int = 0
    seconds: float = 0.0
    grammar_seconds: float = 0.0
    drafts: list[tuple[HospitalStay, str]] = field(default_factory=list)


def system(engine: OnnxEngine, run: Run, max_new_tokens: int):
    """A ``training.evaluate`` system that decodes greedily in ``run.mode`` and records its costs."""
    def generate(ex: ChatExample) -> str:
        stay = ex.meta["stay"]
        ids = engine.tokenizer.encode(render_chatml(ex.messages), add_special_tokens=False).ids
        started = time.perf_counter()
        constraint = None
        if run.mode != "unconstrained":
            constraint = engine.constraints.for_stay(stay)
            if run.mode == "token-by-token":
                constraint.tokenizer = None  # no jump-forward
        out = engine.generate_ids(ids, max_new_tokens=max_new_tokens, constraint=constraint)
        run.seconds += time.perf_counter() - started
        run.tokens += len(out)
        if constraint is not None:
            run.grammar_seconds += constraint.seconds + constraint.compile_seconds
            run.model_runs += constraint.steps
        else:
            run.model_runs += len(out)
        text = engine.tokenizer.decode(out, skip_special_tokens=True)
        run.drafts.append((stay, text))
        return text
    return generate


def chromium_rows(bundle: Path, dtype: str, examples: list[ChatExample], max_new_tokens: int) -> dict:
    """Constrained greedy drafts in Chromium (WASM, the page's worker, web-xgrammar), token by token, next to
    the Python engine's token-by-token drafts: same tokens, drafts passing the review, the masks' share."""
    import tempfile

    from playwright.sync_api import sync_playwright

    from clinical.grammar import epicrisis_grammar
    from devtools.browser import CHROMIUM, CHROMIUM_ARGS, build_webapp, start_server
    from export.catalog import register

    python = OnnxEngine(open_bundle(bundle, dtype), max_concurrency=1, constrain=True, jump_forward=False)
    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    same = passing = tokens = 0
    decode_ms = mask_ms = compile_ms = 0.0
    with tempfile.TemporaryDirectory(prefix="alta-constrained-bench-") as tmp:
        models = Path(tmp, "models")
        models.mkdir()
        register(models / "catalog.json", bundle.resolve(), manifest, ["epicrisis"])
        server = start_server(Path(tmp), models, build_webapp())
        try:
            with sync_playwright() as p:
                chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                page = chromium.new_context(service_workers="block").new_page()
                page.goto(f"{server.url}/?device=wasm&dtype={dtype}")
                page.wait_for_selector("body[data-ready=true]", state="attached", timeout=120_000)
                page.check("input[name=engine][value=browser]")
                page.wait_for_selector("body[data-model=ready]", state="attached", timeout=300_000)
                for ex in examples:
                    stay = ex.meta["stay"]
                    run = page.evaluate("""async ([prompt, grammar, n]) =>
                        await window.alta.engine.generate(prompt, { maxNewTokens: n, grammar })""",
                                        [render_chatml(ex.messages), epicrisis_grammar(stay), max_new_tokens])
                    expected = python.generate_ids(run["prompt_ids"], max_new_tokens=max_new_tokens,
                                                   constraint=python.constraints.for_stay(stay))
                    same += run["token_ids"] == expected
                    passing += check_draft(stay, run["text"]).ok
                    tokens += len(run["token_ids"])
                    decode_ms += run["total_ms"] - run["grammar_compile_ms"]
                    mask_ms += run["mask_ms"]
                    compile_ms += run["grammar_compile_ms"]
                chromium.close()
        finally:
            server.live.stop()
    n = len(examples)
    return {"drafts": n, "same_tokens_as_python": same / n, "pass_review": passing / n,
            "tok_s": tokens / (decode_ms / 1000), "mask_share": mask_ms / decode_ms,
            "grammar_compile_ms": compile_ms / n}


def identity_exact(stay: HospitalStay, text: str) -> bool:
    report = check_draft(stay, text)
    return stay.patient.name in text and not any(f.kind == "identity" for f in report.findings)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=Path("models/demo-onnx"))
    parser.add_argument("--dtype", default=None, help="graph to run (default: the catalog's, as the server)")
    parser.add_argument("--n", type=int, default=200, help="held-out stays (the demo's test split)")
    parser.add_argument("--modes", default=",".join(MODES), help=f"comma-separated, of {', '.join(MODES)}")
    parser.add_argument("--threads", type=int, default=2, help="ONNX Runtime intra-op threads")
    parser.add_argument("--max-new-tokens", type=int, default=1536, help="the server's default draft budget")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--narrative", choices=("record", "free"), default="record",
                        help="the grammar's evolution text: the record's (the default) or the model's words")
    parser.add_argument("--chromium", type=int, default=0, metavar="N",
                        help="also draft the first N stays constrained in Chromium (WASM) and compare with Python")
    parser.add_argument("--chromium-dtype", default="fp32", help="the graph the browser runs (the page's WASM choice)")
    args = parser.parse_args(argv)
    dtype = args.dtype
    if dtype is None:
        entries = load_catalog(args.bundle.parent)[0]
        dtype = next((e.dtype for e in entries if e.bundle.name == args.bundle.resolve().name and e.dtype), "q4")
    spec = DemoSpec()
    split = synthetic_epicrisis_split(spec.n_train, spec.n_validation, spec.n_test, spec.seed, profile="compact")
    examples = [epicrisis_example(ex.stay, ex.text) for ex in split["test"][: args.n]]
    engine = OnnxEngine(open_bundle(args.bundle, dtype), max_concurrency=1, threads=args.threads, constrain=True,
                        grammar=GrammarOptions(narrative=args.narrative))
    if engine.constraints is None:
        raise SystemExit(f"{engine.constraint_detail}: the benchmark needs xgrammar (make bench-constrained)")
    print(f"demo model {args.bundle.name} {dtype}, {args.narrative} narrative, {len(examples)} held-out stays, greedy, "
          f"max {args.max_new_tokens} new tokens, {args.threads} threads")
    header = (f"| {'decoding':<14} | coverage | invented | identity exact | pass review | tok/s | runs/draft "
              f"| mask % |")
    lines = [header, "|" + "|".join("---" for _ in range(8)) + "|"]
    print(header, flush=True)
    results = {}
    for mode in args.modes.split(","):
        if mode not in MODES:
            raise SystemExit(f"unknown mode {mode!r}; choose from {', '.join(MODES)}")
        run = Run(mode)
        scores = score_epicrisis(system(engine, run, args.max_new_tokens), examples, mode).as_dict()
        n = len(run.drafts)
        passing = sum(check_draft(stay, text).ok for stay, text in run.drafts)
        identity = sum(identity_exact(stay, text) for stay, text in run.drafts)
        row = {"coverage": scores["coverage"], "invented_rate": scores["invented_rate"],
               "identity_exact": identity / n, "pass_review": passing / n, "tok_s": run.tokens / run.seconds,
               "runs_per_draft": run.model_runs / n, "mask_share": run.grammar_seconds / run.seconds,
               "mentions_invented": scores["mentions_invented"], "mentions": scores["mentions"], "drafts": n}
        results[mode] = row
        line = (f"| {mode:<14} | {row['coverage']:.1%} | {row['invented_rate']:.1%} | {row['identity_exact']:.1%} "
                f"| {row['pass_review']:.1%} | {row['tok_s']:.0f} | {row['runs_per_draft']:.0f} "
                f"| {row['mask_share']:.1%} |")
        lines.append(line)
        print(line, flush=True)
    engine.close()
    if args.chromium:
        browser = chromium_rows(args.bundle, args.chromium_dtype, examples[: args.chromium], args.max_new_tokens)
        results["chromium"] = browser
        lines.append(f"Chromium WASM {args.chromium_dtype}, token by token, {browser['drafts']} stays: tokens equal to "
                     f"Python's {browser['same_tokens_as_python']:.0%}, pass review {browser['pass_review']:.0%}, "
                     f"{browser['tok_s']:.0f} tok/s, masks {browser['mask_share']:.1%} of decode time, grammar "
                     f"compiled in {browser['grammar_compile_ms']:.0f} ms a draft")
    if args.json:
        args.json.write_text(json.dumps({"bundle": str(args.bundle), "dtype": dtype, "n": len(examples),
                                         "results": results}, indent=2) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
