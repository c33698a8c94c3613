"""Merging LoRA adapters onto a full-precision base, for export and for vLLM."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM

from training.modeling import load_tokenizer
from training.tokenizer import save_tokenizer

logger = logging.getLogger(__name__)


def merge_adapter(adapter_dir: Path, out_dir: Path, base_model: str | None = None,
                  dtype: str = "float32") -> Path:
    """Load the base in ``dtype`` (never 4-bit), apply the adapter, fold it in, save a plain checkpoint.

    Merging into 4-bit weights would round the adapter's update into the quantisation grid and
    give a model that is neither the trained one nor loadable by ONNX export or vLLM.
    """
    from peft import PeftConfig, PeftModel

    if dtype not in ("float32", "bfloat16", "float16"):
        raise ValueError(f"merge dtype must be float32, bfloat16 or float16, not {dtype!r} (never 4-bit)")
    peft_config = PeftConfig.from_pretrained(str(adapter_dir))
    base = base_model or peft_config.base_model_name_or_path
    if not base:
        raise ValueError(f"{adapter_dir}/adapter_config.json names no base model: pass --base-model")
    model = AutoModelForCausalLM.from_pretrained(base, torch_dtype=getattr(torch, dtype))
    merged = PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload()
    out_dir.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(out_dir, safe_serialization=True)
    tokenizer_source = adapter_dir if (adapter_dir / "tokenizer.json").exists() else Path(base)
    save_tokenizer(load_tokenizer(str(tokenizer_source)), out_dir)
    if (adapter_dir / "generation_config.json").exists():
        (out_dir / "generation_config.json").write_text((adapter_dir / "generation_config.json").read_text())
    (out_dir / "alta_merge.json").write_text(json.dumps(
        {"base_model": base, "adapter": str(adapter_dir), "dtype": dtype, "lora_rank": peft_config.r}, indent=2) + "\n")
    logger.info("merged %s onto %s (%s) -> %s", adapter_dir, base, dtype, out_dir)
    return out_dir
