"""Vocabulary trimming and the medical vocabulary, measured (issue 15): ``make bench-vocab``.

Prints, with the command and the machine's load:
- tokens per held-out text on the real Qwen2.5 tokenizer: as shipped, trimmed, trimmed + medical
  (synthetic Chilean and Mexican epicrises, MEDDOCAN dev, a fifth of TICO-19 dev in Spanish);
- embedding rows and megabytes of the Qwen2.5-0.5B and 1.5B shapes before and after;
- the demo model before and after its own medical vocabulary and a time-boxed warm-up of the new rows
  (NLL of held-out answers; perplexity per token and per original token).

    python -m benchmarks.vocab_bench [--max-merges 16000] [--warmup-seconds 300] [--no-warmup]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from devtools import qwen_tokenizer
from training.vocab import report
from training.vocab.warmup import demo_medical


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.vocab_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("runs/vocab"))
    parser.add_argument("--max-merges", type=int, default=16_000, help="medical merges on Qwen2.5")
    parser.add_argument("--demo", type=Path, default=Path("models/demo"))
    parser.add_argument("--demo-merges", type=int, default=1024)
    parser.add_argument("--warmup-steps", type=int, default=300)
    parser.add_argument("--warmup-seconds", type=float, default=360.0)
    parser.add_argument("--warmup-lr", type=float, default=3e-3)
    parser.add_argument("--no-warmup", action="store_true", help="skip the demo model's warm-up")
    args = parser.parse_args(argv)

    print(f"$ python -m benchmarks.vocab_bench {' '.join(argv if argv is not None else sys.argv[1:])}".rstrip())
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)\n")
    vocab = report.build_qwen(qwen_tokenizer.build(quiet=True), args.out / "qwen", args.max_merges)
    table, tokens = report.token_table(vocab)
    print(f"Tokens per held-out text, real Qwen2.5 tokenizer: {vocab.kept:,} tokens kept by trimming, "
          f"{vocab.new_tokens:,} medical tokens added ({vocab.size:,} rows)\n")
    print(table)
    n_keep, differ = report.keep_corpus_check(vocab.full, vocab.trimmed)
    print(f"keep corpus: {differ} of {n_keep:,} texts split differently after trimming (must be 0)\n")
    print(report.size_table({"trimmed": vocab.kept, "trimmed + medical": vocab.size}))
    warm = None
    if not args.no_warmup and (args.demo / "model.safetensors").is_file():
        warm = demo_medical(args.demo, args.out / "demo", max_merges=args.demo_merges, steps=args.warmup_steps,
                            seconds=args.warmup_seconds, lr=args.warmup_lr)
        (args.out / "demo" / "warmup.json").write_text(json.dumps(warm, indent=2), encoding="utf-8")
        print(f"Demo model: medical vocabulary learnt on {warm['n_train']} of its training stays, new rows warmed up; "
              f"{warm['n_eval']} of its held-out stays (training/data/vocab: the stays it was trained on)\n")
        print(report.warmup_table(warm))
    path = report.write(args.out, tokens=tokens, kept=vocab.kept, new_tokens=vocab.new_tokens, rows=vocab.size,
                        warmup=warm)
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; figures written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
