"""Training run configuration: dataclasses with help strings, loaded from YAML and checked.

A config is validated before any model is loaded, and every error says which key to change.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

Task = Literal["epicrisis", "translation", "reasoning"]
QWEN2_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


class ConfigError(ValueError):
    """A training config that cannot work; the message names the key and what to put there."""


def _help(text: str, default: Any = dataclasses.MISSING, factory: Any = dataclasses.MISSING) -> Any:
    if factory is not dataclasses.MISSING:
        return field(default_factory=factory, metadata={"help": text})
    return field(default=default, metadata={"help": text})


@dataclass
class ModelConfig:
    base_model: str = _help("hub id or local path of the base model, e.g. Qwen/Qwen2.5-1.5B-Instruct", "")
    from_scratch: bool = _help("initialise random weights from the base model's config (the demo model)", False)
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = _help(
        "auto: bf16 on GPUs that support it, fp32 on CPU", "auto")
    gradient_checkpointing: bool = _help("trade compute for memory on long sequences", False)
    attn_implementation: str | None = _help("e.g. sdpa or flash_attention_2; None lets transformers choose", None)


@dataclass
class LoraSettings:
    enabled: bool = _help("train LoRA adapters; false means full fine-tuning", True)
    r: int = _help("adapter rank (vLLM's --max-lora-rank must be at least this)", 16)
    alpha: int = _help("LoRA scaling numerator (scale = alpha / r)", 32)
    dropout: float = _help("dropout on the adapter input", 0.05)
    target_modules: list[str] = _help("Qwen2 projections to adapt", factory=lambda: list(QWEN2_TARGETS))


@dataclass
class QuantizationSettings:
    load_in_4bit: bool = _help("QLoRA: base weights in 4-bit NF4 (needs CUDA and bitsandbytes)", False)
    double_quant: bool = _help("quantise the quantisation constants too (QLoRA paper)", True)
    compute_dtype: Literal["bfloat16", "float16"] = _help("matmul dtype for 4-bit layers", "bfloat16")


@dataclass
class DataConfig:
    task: Task = _help("epicrisis, translation or reasoning", "epicrisis")
    train_file: str | None = _help("JSONL of training examples (see training/datasets.py for the formats)", None)
    validation_file: str | None = _help("JSONL of held-out examples", None)
    synthetic_train: int = _help("epicrisis only: this many synthetic training stays when train_file is unset", 0)
    synthetic_validation: int = _help("synthetic held-out stays when validation_file is unset", 0)
    synthetic_profile: Literal["compact", "full"] = _help("size of synthetic records", "full")
    max_length: int = _help("examples longer than this many tokens are dropped (and counted), not cut", 4096)


@dataclass
class TrainSettings:
    output_dir: str = _help("where checkpoints, the metrics log and the final model go", "runs/alta")
    seed: int = _help("seed for data order, dropout and initialisation", 42)
    epochs: float = _help("passes over the training data (ignored when max_steps > 0)", 3.0)
    max_steps: int = _help("stop after this many optimiser steps; 0 uses epochs", 0)
    learning_rate: float = _help("peak learning rate", 2e-4)
    lr_scheduler: str = _help("transformers scheduler name", "cosine")
    warmup_ratio: float = _help("share of steps spent warming up", 0.03)
    weight_decay: float = _help("AdamW weight decay", 0.0)
    batch_size: int = _help("examples per device per step", 1)
    gradient_accumulation: int = _help("steps accumulated per optimiser update", 8)
    max_grad_norm: float = _help("gradient clipping", 1.0)
    group_by_length: bool = _help("batch examples of similar length together (less padding, faster)", False)
    logging_steps: int = _help("log every this many steps", 10)
    save_steps: int = _help("checkpoint every this many steps", 200)
    save_total_limit: int = _help("keep this many checkpoints", 2)
    eval_steps: int = _help("evaluate every this many steps (0: only at the end)", 0)
    resume: bool = _help("continue from the newest checkpoint in output_dir", False)
    threads: int = _help("CPU threads for torch (0: torch's default)", 0)
    cpu_bf16: bool = _help(
        "CPU only: mixed bf16 autocast (weights stay fp32); ~1.4x faster on CPUs with AVX512-BF16 or AMX", False)


@dataclass
class TrainingConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    lora: LoraSettings = field(default_factory=LoraSettings)
    quantization: QuantizationSettings = field(default_factory=QuantizationSettings)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainSettings = field(default_factory=TrainSettings)

    def validate(self) -> TrainingConfig:
        if not self.model.base_model:
            raise ConfigError("model.base_model is missing: add e.g. `model: {base_model: Qwen/Qwen2.5-1.5B-Instruct}` "
                              "or a local checkpoint path")
        if self.quantization.load_in_4bit and not self.lora.enabled:
            raise ConfigError("quantization.load_in_4bit needs lora.enabled: true (4-bit weights cannot be trained "
                              "directly); or set load_in_4bit: false for full fine-tuning")
        if self.model.from_scratch and self.lora.enabled:
            raise ConfigError("model.from_scratch trains every weight: set lora.enabled: false")
        d = self.data
        if d.train_file is None and not (d.task == "epicrisis" and d.synthetic_train > 0):
            raise ConfigError("data.train_file is missing: give a JSONL path, or for epicrisis set "
                              "data.synthetic_train to a number of synthetic stays")
        if d.task != "epicrisis" and (d.synthetic_train or d.synthetic_validation):
            raise ConfigError(f"synthetic data exists for epicrisis only; data.task is {d.task}: give data.train_file")
        if self.lora.r <= 0 or self.lora.alpha <= 0:
            raise ConfigError("lora.r and lora.alpha must be positive")
        if d.max_length < 64:
            raise ConfigError("data.max_length below 64 tokens cannot hold a prompt")
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _build(cls: type, values: dict[str, Any], path: str) -> Any:
    if not isinstance(values, dict):
        raise ConfigError(f"{path or 'config'} must be a mapping")
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(f'{path}.{k}'.lstrip('.') for k in unknown)}; "
                          f"known: {', '.join(known)}")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, value in values.items():
        if dataclasses.is_dataclass(hints[name]):
            kwargs[name] = _build(hints[name], value or {}, f"{path}.{name}".lstrip("."))
        else:
            kwargs[name] = value
    return cls(**kwargs)


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """``["train.max_steps=10", "lora.r=8"]`` -> nested dict, values parsed as YAML scalars."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep:
            raise ConfigError(f"override {pair!r} must look like section.key=value")
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(raw)
    return out


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        merged[key] = _merge(merged.get(key) or {}, value) if isinstance(value, dict) else value
    return merged


def load_config(path: Path | None = None, overrides: list[str] | None = None) -> TrainingConfig:
    """A validated config from a YAML file plus ``section.key=value`` overrides."""
    raw: dict[str, Any] = {}
    if path is not None:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    raw = _merge(raw, parse_overrides(overrides or []))
    return _build(TrainingConfig, raw, "").validate()
