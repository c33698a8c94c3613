"""QLoRA on a CUDA GPU (marker ``gpu``, ``make test-gpu``): a tiny Qwen2 with the real Qwen2.5 vocabulary
loaded in 4-bit NF4 through bitsandbytes, a few LoRA steps, the adapter saved and merged onto the
full-precision base. Deselected by default; without CUDA it fails and says so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devtools.tiny_models import tiny_model
from tests.support.training import PAIRS, assert_merge_is_the_adapter

pytestmark = pytest.mark.gpu

STEPS = 12


def test_qlora_on_4bit_weights_learns_saves_the_adapter_and_merges(tmp_path: Path) -> None:
    import torch

    if not torch.cuda.is_available():
        pytest.fail("the gpu tests need a CUDA GPU and the gpu extra (make test-gpu on a GPU host)")
    import bitsandbytes as bnb
    from safetensors.torch import load_file

    from training.config import load_config
    from training.merge import merge_adapter
    from training.modeling import load_model, load_tokenizer
    from training.sft import train

    # hidden 64: bitsandbytes quantises in blocks of 64 values, so every projection holds whole blocks
    base = tiny_model("qwen2.5-tiny", hidden=64, initializer_range=0.2)
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"source": s, "target": t}) + "\n" for s, t in PAIRS * 2))
    cfg = load_config(None, [
        f"model.base_model={base}", "data.task=translation", f"data.train_file={data}",
        f"train.output_dir={tmp_path / 'run'}", f"train.max_steps={STEPS}", "train.batch_size=4",
        "train.gradient_accumulation=1", "train.learning_rate=0.02", "train.logging_steps=1", "train.warmup_ratio=0",
        "train.lr_scheduler=constant", "lora.r=4", "lora.alpha=8", "lora.dropout=0",
        "quantization.load_in_4bit=true"])

    # The model training gets: 4-bit base projections (packed uint8), trainable adapters only.
    model = load_model(cfg, load_tokenizer(str(base)))
    four_bit = [m for m in model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert len(four_bit) == 2 * 7  # q, k, v, o, gate, up, down in each of the 2 layers
    assert all(m.weight.dtype == torch.uint8 and m.weight.quant_state.quant_type == "nf4" for m in four_bit)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    del model

    result = train(cfg)
    lines = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    losses = [line["loss"] for line in lines if "loss" in line]
    assert len(losses) == STEPS and losses[-1] < losses[0] * 0.9, losses

    adapter = load_file(result.final_dir / "adapter_model.safetensors")
    assert adapter and all("lora_" in name for name in adapter)
    assert all(t.abs().sum() > 0 for name, t in adapter.items() if "lora_B" in name)  # B starts at zero
    assert json.loads((result.final_dir / "adapter_config.json").read_text())["r"] == 4

    merged_dir = merge_adapter(result.final_dir, tmp_path / "merged", base_model=str(base))
    merged_config = json.loads((merged_dir / "config.json").read_text())
    assert "quantization_config" not in merged_config  # onto the full-precision base, never the 4-bit one
    assert_merge_is_the_adapter(merged_dir, base, result.final_dir, tol=1e-4)
