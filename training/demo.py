"""`make demo-model`: the small offline model Alta ships, trained from scratch by this pipeline.

Deterministic end to end: synthetic compact stays (seeded) -> a byte-level BPE tokenizer trained on
them -> a small Qwen2 trained from random weights with full fine-tuning -> fp16 safetensors in
models/demo/ -> evaluation on held-out stays next to the template engine.
"""

from __future__ import annotations

import json
import logging
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, Qwen2Config

from training.config import load_config
from training.datasets import iter_texts, read_jsonl
from training.evaluate import (
    checkpoint_system,
    comparison_table,
    perplexity,
    reference_system,
    score_epicrisis,
    template_system,
    write_comparison,
)
from training.modeling import load_tokenizer
from training.sft import train
from training.tokenizer import ENDOFTEXT, IM_END, save_tokenizer, train_tokenizer

logger = logging.getLogger(__name__)


CONFIG = Path(__file__).parent / "configs" / "demo.yaml"


@dataclass(frozen=True)
class DemoSpec:
    """Data and architecture of the demo model; its training settings are in configs/demo.yaml."""

    # Sized for this machine's 2 CPU cores: ~2.5M parameters, ~4,000 training tokens/s when idle, so the
    # step budget in demo.yaml (900 steps of 8 stays of ~1,000 tokens) trains in about half an hour.
    n_train: int = 4000
    n_validation: int = 100
    n_test: int = 200
    vocab_size: int = 4096
    hidden: int = 192
    layers: int = 4
    heads: int = 4
    kv_heads: int = 4  # one key per head: copying values from the record needs content lookups
    intermediate: int = 576
    max_new_tokens: int = 640
    seed: int = 1234
    overrides: tuple[str, ...] = ()  # extra section.key=value settings for the training config

    @classmethod
    def quick(cls) -> DemoSpec:
        """A run of seconds that goes through every stage (tests, smoke checks)."""
        return cls(n_train=24, n_validation=4, n_test=4, vocab_size=800, hidden=32, layers=2, heads=2, kv_heads=1,
                   intermediate=64, max_new_tokens=24,
                   overrides=("train.max_steps=6", "train.batch_size=4", "data.max_length=2048", "train.save_steps=1000"))


def build_demo(out: Path, work: Path, spec: DemoSpec = DemoSpec()) -> dict:
    """Run the whole demo pipeline; returns the evaluation results (also written into ``out``)."""
    from training.data import synthetic_epicrisis_split, write_jsonl

    started = time.perf_counter()
    torch.manual_seed(spec.seed)
    work.mkdir(parents=True, exist_ok=True)
    splits = synthetic_epicrisis_split(spec.n_train, spec.n_validation, spec.n_test, spec.seed, profile="compact")
    for name, examples in splits.items():
        write_jsonl(examples, work / f"{name}.jsonl")
    train_examples = read_jsonl(work / "train.jsonl", "epicrisis")

    logger.info("training the tokenizer on %d examples", len(train_examples))
    tokenizer = train_tokenizer(iter_texts(train_examples), vocab_size=spec.vocab_size)
    base = work / "base"
    save_tokenizer(tokenizer, base)
    Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=spec.hidden, intermediate_size=spec.intermediate,
        num_hidden_layers=spec.layers, num_attention_heads=spec.heads, num_key_value_heads=spec.kv_heads,
        max_position_embeddings=2048, tie_word_embeddings=True, rope_theta=10000.0,
        bos_token_id=tokenizer.convert_tokens_to_ids(ENDOFTEXT), eos_token_id=tokenizer.convert_tokens_to_ids(IM_END),
        pad_token_id=tokenizer.convert_tokens_to_ids(ENDOFTEXT),
    ).save_pretrained(base)

    cfg = load_config(CONFIG, [
        f"model.base_model={base}", f"data.train_file={work / 'train.jsonl'}",
        f"data.validation_file={work / 'validation.jsonl'}", f"train.output_dir={work / 'run'}", *spec.overrides,
    ])
    run = train(cfg)

    model = AutoModelForCausalLM.from_pretrained(run.final_dir, dtype=torch.float32).eval()
    out.mkdir(parents=True, exist_ok=True)
    model.to(torch.float16).save_pretrained(out, safe_serialization=True)
    model.to(torch.float32)
    tokenizer = load_tokenizer(str(run.final_dir))
    save_tokenizer(tokenizer, out)
    (out / "generation_config.json").write_text((run.final_dir / "generation_config.json").read_text())

    test = read_jsonl(work / "test.jsonl", "epicrisis")
    results = {
        "demo model (greedy)": score_epicrisis(checkpoint_system(model, tokenizer, spec.max_new_tokens), test, "demo").as_dict(),
        "template engine": score_epicrisis(template_system, test, "template").as_dict(),
        "reference narratives": score_epicrisis(reference_system, test, "reference").as_dict(),
    }
    results["demo model (greedy)"]["perplexity"] = perplexity(model, tokenizer, test)
    write_comparison(results, out, "eval")
    summary = {
        "spec": spec.__dict__, "train_seconds": run.seconds, "total_seconds": time.perf_counter() - started,
        "steps": run.steps, "train_tokens": run.train_tokens, "train_loss": run.train_loss, "eval_loss": run.eval_loss,
        "hardware": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
                    f"{'CUDA ' + torch.cuda.get_device_name() if torch.cuda.is_available() else 'CPU only'}",
        "torch": torch.__version__,
    }
    (out / "training_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    write_golden_token_ids(tokenizer, out)
    (out / "README.md").write_text(model_card(spec, summary, comparison_table(results)), encoding="utf-8")
    return results


def write_golden_token_ids(tokenizer, out: Path) -> Path:  # noqa: ANN001
    """The golden prompts of the contract as this tokenizer's ids, for the Python and JS tests."""
    from clinical.contract import golden_vectors

    ids = {v["name"]: tokenizer(v["prompt"], add_special_tokens=False)["input_ids"] for v in golden_vectors()}
    path = out / "golden_token_ids.json"
    path.write_text(json.dumps(ids) + "\n")
    return path


def model_card(spec: DemoSpec, summary: dict, table: str) -> str:
    minutes = summary["train_seconds"] / 60
    return f"""# Alta demo model (epicrisis, Spanish)

A small Qwen2-architecture model trained from random weights by `make demo-model`
(`python -m training demo-model`) on synthetic Chilean and Mexican hospital stays, so Alta can
draft an epicrisis offline, in the browser or on a CPU. It is a demonstration of the pipeline, not
a clinical tool: every draft goes through the output checks and a clinician's review.

- Architecture: Qwen2, {spec.layers} layers, hidden {spec.hidden}, {spec.heads} heads ({spec.kv_heads} KV), \
vocabulary {spec.vocab_size} (byte-level BPE trained on the synthetic data), tied embeddings; fp16 weights.
- Data: {spec.n_train} synthetic stays (training.data, seed {spec.seed}, "compact" profile), reference
narratives in varied clinical phrasing; {spec.n_test} held-out stays for evaluation. No patient data.
- Training: {summary["steps"]} steps, {summary["train_tokens"]:,} tokens per epoch, {minutes:.0f} min on \
{summary["hardware"]} (torch {summary["torch"]}); settings in training/configs/demo.yaml.
- Prompt: the prompt contract (clinical/contract.py), ChatML; `golden_token_ids.json` holds the ids
this tokenizer gives the golden prompts.

## Evaluation on {spec.n_test} held-out synthetic stays

coverage = diagnoses, procedures and discharge medications of the record present in the draft;
invented = drugs, doses and dates in the draft that the record lacks, over all such mentions;
format = required sections present, in an accepted order.

{table}"""
