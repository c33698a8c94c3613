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
    args = parser.parse_args(argv)
    dtype = args.dtype
    if dtype is None:
        entries = load_catalog(args.bundle.parent)[0]
        dtype = next((e.dtype for e in entries if e.bundle.name == args.bundle.resolve().name and e.dtype), "q4")
    spec = DemoSpec()
    split = synthetic_epicrisis_split(spec.n_train, spec.n_validation, spec.n_test, spec.seed, profile="compact")
    examples = [epicrisis_example(ex.stay, ex.text) for ex in split["test"][: args.n]]
    engine = OnnxEngine(open_bundle(args.bundle, dtype), max_concurrency=1, threads=args.threads, constrain=True)
    if engine.constraints is None:
        raise SystemExit(f"{engine.constraint_detail}: the benchmark needs xgrammar (make bench-constrained)")
    print(f"demo model {args.bundle.name} {dtype}, {len(examples)} held-out stays, greedy, "
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
    if args.json:
        args.json.write_text(json.dumps({"bundle": str(args.bundle), "dtype": dtype, "n": len(examples),
                                         "results": results}, indent=2) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
