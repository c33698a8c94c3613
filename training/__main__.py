"""`python -m training {train,merge,eval,demo-model,vocab,vllm-command}`: the ML engineer's command line."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from pathlib import Path

from training.config import ConfigError


def cmd_train(args: argparse.Namespace) -> int:
    from training.config import load_config
    from training.sft import train

    result = train(load_config(args.config, args.set))
    print(f"trained {result.steps} steps in {result.seconds:.0f} s; train loss {result.train_loss:.4f}"
          + (f", eval loss {result.eval_loss:.4f}" if result.eval_loss is not None else "")
          + f"\nfinal model: {result.final_dir}")
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    from training.merge import merge_adapter

    out = merge_adapter(args.adapter, args.out, args.base_model, args.dtype)
    print(f"merged model: {out}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    import torch
    from transformers import AutoModelForCausalLM

    from training.datasets import read_jsonl
    from training.evaluate import (
        checkpoint_system,
        perplexity,
        reference_system,
        score_epicrisis,
        score_translation,
        template_system,
        write_comparison,
    )
    from training.modeling import load_tokenizer

    examples = read_jsonl(args.data, args.task)[: args.limit or None]
    results: dict[str, dict] = {}
    for spec in args.model:
        name, _, path = spec.rpartition("=") if "=" in spec else (spec, "", spec)
        if path == "template":
            if args.task != "epicrisis":
                raise ConfigError("the template system writes epicrisis only")
            results[name] = score_epicrisis(template_system, examples, name).as_dict()
            continue
        if path == "reference":
            system, ppl = reference_system, None
        else:
            tokenizer = load_tokenizer(path)
            model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
            system, ppl = checkpoint_system(model, tokenizer, args.max_new_tokens), perplexity(model, tokenizer, examples)
        if args.task == "epicrisis":
            results[name] = score_epicrisis(system, examples, name).as_dict()
            results[name]["perplexity"] = ppl
        else:
            results[name] = {**score_translation(system, examples), "perplexity": ppl}
    json_path, md_path = write_comparison(results, args.out, f"eval_{args.task}")
    print(md_path.read_text(), end="")
    print(f"written: {json_path} {md_path}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from training.demo import DemoSpec, build_demo
    from training.evaluate import comparison_table

    spec = DemoSpec.quick() if args.quick else DemoSpec()
    if args.set:
        spec = dataclasses.replace(spec, overrides=spec.overrides + tuple(args.set))
    results = build_demo(args.out, args.work, spec)
    print(comparison_table(results), end="")
    return 0


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="fine-tune (LoRA, QLoRA or full) from a YAML config")
    train.add_argument("--config", type=Path, help="YAML file, e.g. training/configs/epicrisis-qwen2.5-1.5b-lora.yaml")
    train.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="override, e.g. train.max_steps=100")
    train.set_defaults(func=cmd_train)

    merge = sub.add_parser("merge", help="merge a LoRA adapter onto its full-precision base")
    merge.add_argument("--adapter", type=Path, required=True, help="the run's final/ directory")
    merge.add_argument("--out", type=Path, required=True)
    merge.add_argument("--base-model", help="default: the base named in adapter_config.json")
    merge.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    merge.set_defaults(func=cmd_merge)

    ev = sub.add_parser("eval", help="score systems on a JSONL test set, side by side")
    ev.add_argument("--task", choices=["epicrisis", "translation", "reasoning"], default="epicrisis")
    ev.add_argument("--data", type=Path, required=True, help="JSONL in the task's training format")
    ev.add_argument("--model", nargs="+", required=True, metavar="[NAME=]PATH",
                    help="checkpoints to compare; 'template' and 'reference' are built-in systems")
    ev.add_argument("--out", type=Path, default=Path("runs/eval"))
    ev.add_argument("--limit", type=int, default=0, help="first N examples only")
    ev.add_argument("--max-new-tokens", type=int, default=1024)
    ev.set_defaults(func=cmd_eval)

    demo = sub.add_parser("demo-model", help="train and evaluate the small model Alta ships (models/demo)")
    demo.add_argument("--out", type=Path, default=Path("models/demo"))
    demo.add_argument("--work", type=Path, default=Path("runs/demo"), help="data, checkpoints, logs")
    demo.add_argument("--quick", action="store_true", help="a tiny run to check the pipeline end to end")
    demo.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                      help="override configs/demo.yaml, e.g. train.max_steps=20000 on a GPU")
    demo.set_defaults(func=cmd_demo)

    from training.vocab.cli import register as register_vocab

    register_vocab(sub)

    # Listed for --help; main() hands everything after it to training.vllm_command, its own parser.
    sub.add_parser("vllm-command", add_help=False,
                   help="print the `vllm serve` command for a merged base and the adapters of training configs")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["vllm-command"]:
        from training.vllm_command import main as vllm_command

        return vllm_command(argv[1:])
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    args = make_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
