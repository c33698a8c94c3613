"""CPU decode side by side on the Qwen2.5-0.5B shape: PyTorch eager, Alta's engine, onnxruntime-genai.

Random weights with the exact public Qwen2.5-0.5B configuration and the real Qwen2.5 tokenizer
(``devtools.qwen_tokenizer``), so the figures are the real model's speed (random weights carry no
text, only time). Placeholder: the measuring half follows.
"""

from __future__ import annotations

import json
from pathlib import Path

from devtools.paths import REPO

REAL_SHAPES = REPO / ".cache" / "real-shapes"
QWEN25_05B = {  # Qwen/Qwen2.5-0.5B-Instruct config.json
    "hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24, "num_attention_heads": 14,
    "num_key_value_heads": 2, "vocab_size": 151_936, "tie_word_embeddings": True, "rope_theta": 1_000_000.0,
    "max_position_embeddings": 32_768, "rms_norm_eps": 1e-6, "hidden_act": "silu", "max_window_layers": 21,
    "sliding_window": 32_768, "use_sliding_window": False, "bos_token_id": 151_643, "eos_token_id": 151_645,
}


def real_checkpoint(out: Path = REAL_SHAPES / "qwen2.5-0.5b", seed: int = 0) -> Path:
    """A random-weight Qwen2.5-0.5B checkpoint with the real tokenizer (reused when already there)."""
    if (out / "model.safetensors").is_file() and (out / "tokenizer.json").is_file():
        return out
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    from devtools import qwen_tokenizer

    tokenizer = qwen_tokenizer.load()
    torch.manual_seed(seed)
    config = Qwen2Config(**QWEN25_05B, pad_token_id=151_643, dtype="float32")
    model = Qwen2ForCausalLM(config).eval()
    staging = out.with_name(out.name + ".partial")
    staging.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(staging, safe_serialization=True)
    GenerationConfig(bos_token_id=151_643, eos_token_id=[151_645, 151_643], pad_token_id=151_643,
                     do_sample=False).save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    (staging / "alta_real_shape.json").write_text(json.dumps({"shape": "Qwen2.5-0.5B", "seed": seed}) + "\n")
    staging.rename(out)
    return out
