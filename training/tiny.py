"""Tiny Qwen2-architecture models with random weights and a locally trained tokenizer, for tests.

Real code paths (training, merging, ONNX export, the engines) run on these in seconds; nothing is
downloaded. The tokenizer is trained on the prompt contract's golden prompts and the template
writer's epicrisis, so token counts are of the right kind even if the vocabulary is small.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path

import torch
from transformers import GenerationConfig, PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

from clinical.contract import GOLDEN_TODAY, epicrisis_prompt, example_records
from clinical.record import HospitalStay
from clinical.writer import render_epicrisis
from training.tokenizer import ENDOFTEXT, IM_END, save_tokenizer, train_tokenizer


def corpus() -> list[str]:
    """Prompts and reference epicrisis of the shipped example records, plus the lexicon's drugs."""
    texts = []
    for raw in example_records().values():
        stay = HospitalStay.model_validate(raw, context={"today": GOLDEN_TODAY})
        texts += [epicrisis_prompt(stay), render_epicrisis(stay)]
    drugs = resources.files("clinical.lexicon").joinpath("drugs.tsv").read_text(encoding="utf-8")
    texts.append(drugs)
    return texts


@cache
def tiny_tokenizer(vocab_size: int = 1024) -> PreTrainedTokenizerFast:
    return train_tokenizer(corpus(), vocab_size=vocab_size, min_frequency=1)


def tiny_config(tokenizer: PreTrainedTokenizerFast, hidden: int = 16, layers: int = 2, heads: int = 2,
                kv_heads: int = 1, tie_embeddings: bool = True, max_positions: int = 4096,
                **extra) -> Qwen2Config:
    """A Qwen2 config sized for tests; ``extra`` goes to Qwen2Config as is (initializer_range, ...)."""
    return Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=hidden * 4,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        max_position_embeddings=max_positions,
        tie_word_embeddings=tie_embeddings,
        bos_token_id=tokenizer.convert_tokens_to_ids(ENDOFTEXT),
        eos_token_id=tokenizer.convert_tokens_to_ids(IM_END),
        pad_token_id=tokenizer.convert_tokens_to_ids(ENDOFTEXT),
        dtype="float32",
        **extra,
    )


def build_tiny_qwen2(out_dir: Path, seed: int = 0, **config_overrides) -> Path:
    """Save a random tiny Qwen2 with its tokenizer to ``out_dir`` (a loadable checkpoint)."""
    tokenizer = tiny_tokenizer()
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(tiny_config(tokenizer, **config_overrides)).eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir, safe_serialization=True)
    GenerationConfig(
        bos_token_id=model.config.bos_token_id,
        eos_token_id=model.config.eos_token_id,
        pad_token_id=model.config.pad_token_id,
        do_sample=False,
    ).save_pretrained(out_dir)
    save_tokenizer(tokenizer, out_dir)
    (out_dir / "alta_tiny.json").write_text(json.dumps({"seed": seed, **config_overrides}) + "\n")
    return out_dir
