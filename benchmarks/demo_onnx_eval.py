"""The shipped demo bundle's drafts, scored per dtype with the same checks as `make demo-model`.

`python -m benchmarks.demo_onnx_eval [--n 200]`: greedy decoding on ONNX Runtime (what the backend
serves) over the demo model's held-out synthetic stays, next to the template engine.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from backend.engines.bundle import open_bundle
from backend.engines.decoding import SamplingParams
from backend.engines.onnx import OnnxEngine
from clinical.contract import render_chatml
from training.data import synthetic_epicrisis_split
from training.datasets import ChatExample, epicrisis_example
from training.demo import DemoSpec
from training.evaluate import score_epicrisis, template_system


def onnx_system(engine: OnnxEngine, max_new_tokens: int):
    def generate(ex: ChatExample) -> str:
        ids = engine.tokenizer.encode(render_chatml(ex.messages), add_special_tokens=False).ids
        return engine.tokenizer.decode(engine.generate_ids(ids, max_new_tokens=max_new_tokens), skip_special_tokens=True)
    return generate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=Path("models/demo-onnx"))
    parser.add_argument("--dtypes", default="fp32,q4")
    parser.add_argument("--n", type=int, default=200, help="held-out stays to score (the demo's test split)")
    args = parser.parse_args(argv)
    spec = DemoSpec()
    split = synthetic_epicrisis_split(spec.n_train, spec.n_validation, spec.n_test, spec.seed, profile="compact")
    test = [epicrisis_example(ex.stay, ex.text) for ex in split["test"][: args.n]]
    print(f"{'system':<22} {'coverage':>9} {'invented':>9} {'format':>7} {'s/draft':>8}")
    for dtype in args.dtypes.split(","):
        engine = OnnxEngine(open_bundle(args.bundle, dtype), max_concurrency=1, threads=2,
                            defaults=SamplingParams(max_new_tokens=spec.max_new_tokens))
        started = time.perf_counter()
        s = score_epicrisis(onnx_system(engine, spec.max_new_tokens), test, dtype).as_dict()
        per = (time.perf_counter() - started) / len(test)
        print(f"{'onnx ' + dtype:<22} {s['coverage']:>9.2%} {s['invented_rate']:>9.2%} "
              f"{s['format_compliance']:>7.1%} {per:>8.2f}", flush=True)
        engine.close()
    s = score_epicrisis(template_system, test, "template").as_dict()
    print(f"{'template engine':<22} {s['coverage']:>9.2%} {s['invented_rate']:>9.2%} "
          f"{s['format_compliance']:>7.1%} {'-':>8}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
