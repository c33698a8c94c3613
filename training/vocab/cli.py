"""``python -m training vocab {trim,medical,warmup,report}``: the vocabulary transforms' command line."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

DEFAULT_QWEN = Path(".cache/qwen2.5-tokenizer")


def cmd_trim(args: argparse.Namespace) -> int:
    from training.vocab.trim import trim_checkpoint

    texts = None
    if args.corpus:
        texts = [p.read_text(encoding="utf-8") for p in args.corpus]
    result = trim_checkpoint(args.src, args.out, corpus=texts, pad_to_multiple_of=args.pad_to)
    print(f"kept {result.kept_tokens:,} tokens: {result.old_size:,} -> {result.new_size:,} embedding rows\n"
          f"trimmed checkpoint: {result.out_dir}")
    return 0


def cmd_medical(args: argparse.Namespace) -> int:
    from training.vocab import corpus, medical

    if args.merges:
        merges = medical.load_merges(args.merges)[: args.max_merges]
    else:
        words = medical.word_counts(Path(args.src) / "tokenizer.json", corpus.selection())
        merges = medical.learn_merges(words, args.max_merges, args.min_saving)
    result = medical.extend_checkpoint(args.src, args.out, merges, pad_to_multiple_of=args.pad_to)
    medical.save_merges(merges, Path(args.out) / "medical_merges.txt")
    print(f"{len(merges):,} merges, {len(result.new_tokens):,} new tokens: {result.old_size:,} -> "
          f"{result.new_size:,} embedding rows\nextended checkpoint: {result.out_dir}")
    return 0


def cmd_warmup(args: argparse.Namespace) -> int:
    from training.vocab.report import warmup_table
    from training.vocab.warmup import DEMO_DATA, demo_medical

    result = demo_medical(args.demo, args.work, max_merges=args.max_merges, n_train=args.n_train,
                          n_eval=args.n_eval, steps=args.steps, seconds=args.seconds, lr=args.lr,
                          data=None if args.today else DEMO_DATA)
    (Path(args.work) / "warmup.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(warmup_table(result), end="")
    print(f"written: {Path(args.work) / 'warmup.json'}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from training.vocab import report

    vocab = report.build_qwen(args.tokenizer, args.out, args.max_merges, args.min_saving)
    table, figures = report.token_table(vocab)
    print(f"Tokens per held-out text, real Qwen2.5 tokenizer ({vocab.kept:,} tokens kept by trimming, "
          f"{vocab.new_tokens:,} medical tokens added: {vocab.size:,} rows)\n")
    print(table)
    print(report.size_table({"trimmed": vocab.kept, "trimmed + medical": vocab.size}))
    warm = None
    if args.warmup_json and Path(args.warmup_json).is_file():
        warm = json.loads(Path(args.warmup_json).read_text(encoding="utf-8"))
        print(report.warmup_table(warm))
    path = report.write(args.out, tokens=figures, kept=vocab.kept, new_tokens=vocab.new_tokens, rows=vocab.size,
                        warmup=warm)
    print(f"written: {path}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``vocab`` and its subcommands to ``python -m training``'s parser."""
    vocab = sub.add_parser("vocab", help="trim the vocabulary, add a medical one, warm it up, report")
    cmds = vocab.add_subparsers(dest="vocab_command", required=True)

    trim = cmds.add_parser("trim", help="keep the tokens clinical text and the chat format use")
    trim.add_argument("--src", type=Path, required=True, help="checkpoint (or tokenizer-only) folder")
    trim.add_argument("--out", type=Path, required=True)
    trim.add_argument("--corpus", type=Path, nargs="*", help="text files to keep (default: the keep corpus)")
    trim.add_argument("--pad-to", type=int, default=1, help="round the embedding rows up to a multiple")
    trim.set_defaults(func=cmd_trim)

    med = cmds.add_parser("medical", help="append merges for frequent clinical words; new rows = sub-token mean")
    med.add_argument("--src", type=Path, required=True, help="checkpoint (usually trimmed) folder")
    med.add_argument("--out", type=Path, required=True)
    med.add_argument("--max-merges", type=int, default=16_000)
    med.add_argument("--min-saving", type=int, default=2, help="stop when a merge saves fewer tokens")
    med.add_argument("--merges", type=Path, help="a medical_merges.txt to apply instead of learning")
    med.add_argument("--pad-to", type=int, default=1)
    med.set_defaults(func=cmd_medical)

    warm = cmds.add_parser("warmup", help="medical vocabulary on the demo model, new rows warmed up, perplexity")
    warm.add_argument("--demo", type=Path, default=Path("models/demo"))
    warm.add_argument("--work", type=Path, default=Path("runs/vocab/demo"))
    warm.add_argument("--max-merges", type=int, default=1024)
    warm.add_argument("--n-train", type=int, default=200)
    warm.add_argument("--n-eval", type=int, default=40)
    warm.add_argument("--steps", type=int, default=300)
    warm.add_argument("--seconds", type=float, default=240.0, help="time box for the warm-up")
    warm.add_argument("--lr", type=float, default=3e-3, help="AdamW learning rate of the new rows")
    warm.add_argument("--today", action="store_true",
                      help="today's synthetic stays instead of the ones the demo was trained on (training/data/vocab)")
    warm.set_defaults(func=cmd_warmup)

    rep = cmds.add_parser("report", help="tokens per held-out text and embedding sizes, real Qwen2.5 tokenizer")
    rep.add_argument("--tokenizer", type=Path, default=DEFAULT_QWEN, help="built by python -m devtools.qwen_tokenizer")
    rep.add_argument("--out", type=Path, default=Path("runs/vocab/qwen"))
    rep.add_argument("--max-merges", type=int, default=16_000)
    rep.add_argument("--min-saving", type=int, default=2)
    rep.add_argument("--warmup-json", type=Path, default=Path("runs/vocab/demo/warmup.json"),
                     help="the demo warm-up's figures, printed when present")
    rep.set_defaults(func=cmd_report)
