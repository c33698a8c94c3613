"""Supervised fine-tuning: config in, checkpoints, a metrics log and a final model out."""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml
from transformers import GenerationConfig, Trainer, TrainerCallback, TrainingArguments, set_seed
from transformers.trainer_utils import get_last_checkpoint

from training.config import TrainingConfig
from training.datasets import load_splits
from training.encode import PadCollator, encode_all
from training.modeling import choose_dtype, load_model, load_tokenizer, model_info
from training.tokenizer import save_tokenizer

logger = logging.getLogger(__name__)


class JsonlMetrics(TrainerCallback):
    """Appends every logged metric (loss, learning rate, eval loss, ...) to metrics.jsonl."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001 - Trainer's signature
        if logs:
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps({"step": state.global_step, "epoch": state.epoch, "time": time.time(), **logs}) + "\n")


@dataclass(frozen=True)
class RunResult:
    output_dir: Path
    final_dir: Path
    train_loss: float
    eval_loss: float | None
    steps: int
    seconds: float
    train_tokens: int


def _arguments(cfg: TrainingConfig, has_eval: bool) -> TrainingArguments:
    t = cfg.train
    dtype = choose_dtype(cfg.model.dtype)
    return TrainingArguments(
        output_dir=t.output_dir,
        seed=t.seed,
        data_seed=t.seed,
        num_train_epochs=t.epochs,
        max_steps=t.max_steps if t.max_steps > 0 else -1,
        learning_rate=t.learning_rate,
        lr_scheduler_type=t.lr_scheduler,
        warmup_ratio=t.warmup_ratio,
        weight_decay=t.weight_decay,
        per_device_train_batch_size=t.batch_size,
        per_device_eval_batch_size=t.batch_size,
        gradient_accumulation_steps=t.gradient_accumulation,
        max_grad_norm=t.max_grad_norm,
        group_by_length=t.group_by_length,
        logging_steps=t.logging_steps,
        save_steps=t.save_steps,
        save_total_limit=t.save_total_limit,
        eval_strategy="steps" if has_eval and t.eval_steps > 0 else "no",
        eval_steps=t.eval_steps or None,
        bf16=(dtype == torch.bfloat16 and torch.cuda.is_available() and not cfg.quantization.load_in_4bit)
        or (t.cpu_bf16 and not torch.cuda.is_available()),
        fp16=dtype == torch.float16 and torch.cuda.is_available(),
        gradient_checkpointing=False,  # enabled on the model in load_model, with the right kwargs
        report_to=[],
        remove_unused_columns=False,  # our examples are already tensors-to-be
        dataloader_num_workers=0,
        disable_tqdm=False,
        use_cpu=not torch.cuda.is_available(),
    )


def train(cfg: TrainingConfig) -> RunResult:
    """Run the whole fine-tuning; resumes from the newest checkpoint when ``train.resume`` is set."""
    started = time.perf_counter()
    out = Path(cfg.train.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    set_seed(cfg.train.seed)
    (out / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False, allow_unicode=True))

    tokenizer = load_tokenizer(cfg.model.base_model)
    train_examples, eval_examples = load_splits(cfg.data, cfg.train.seed)
    train_set = encode_all(tokenizer, train_examples, cfg.data.max_length, "train")
    eval_set = encode_all(tokenizer, eval_examples, cfg.data.max_length, "validation") if eval_examples else None

    model = load_model(cfg, tokenizer)
    info = model_info(model)
    logger.info("%s", info)
    (out / "model_info.json").write_text(json.dumps(info.__dict__, indent=2) + "\n")

    resume: str | None = None
    if cfg.train.resume:
        resume = get_last_checkpoint(str(out))
        logger.info("resuming from %s", resume or "scratch (no checkpoint yet)")

    trainer = Trainer(
        model=model,
        args=_arguments(cfg, eval_set is not None),
        train_dataset=train_set,
        eval_dataset=eval_set,
        data_collator=PadCollator(tokenizer.pad_token_id),
        callbacks=[JsonlMetrics(out / "metrics.jsonl")],
    )
    result = trainer.train(resume_from_checkpoint=resume)
    eval_loss = trainer.evaluate()["eval_loss"] if eval_set is not None else None

    final = out / "final"
    trainer.save_model(str(final))
    save_tokenizer(tokenizer, final)
    _save_generation_config(tokenizer, final)
    seconds = time.perf_counter() - started
    summary: dict[str, Any] = {
        "train_loss": result.training_loss, "eval_loss": eval_loss,
        "eval_perplexity": math.exp(eval_loss) if eval_loss is not None else None,
        "steps": result.global_step, "seconds": seconds,
        "train_tokens": sum(len(e["input_ids"]) for e in train_set), "model": info.__dict__,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return RunResult(out, final, result.training_loss, eval_loss, result.global_step, seconds, summary["train_tokens"])


def _save_generation_config(tokenizer, final: Path) -> None:  # noqa: ANN001
    GenerationConfig(
        eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=tokenizer.pad_token_id,
        do_sample=False,
    ).save_pretrained(final)
