"""`make demo-model` end to end in miniature: data, tokenizer, training from scratch, export, eval."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

from clinical.contract import golden_vectors
from training.demo import DemoSpec, build_demo


def test_quick_demo_goes_through_every_stage(tmp_path: Path) -> None:
    out, work = tmp_path / "demo", tmp_path / "work"
    results = build_demo(out, work, DemoSpec.quick())

    assert set(results) == {"demo model (greedy)", "template engine", "reference narratives"}
    for system in ("template engine", "reference narratives"):  # both restate the record faithfully
        assert results[system]["coverage"] == 1.0 and results[system]["invented_rate"] == 0.0
        assert results[system]["format_compliance"] == 1.0
    assert results["demo model (greedy)"]["perplexity"] > 1.0

    weights = load_file(out / "model.safetensors")
    assert {t.dtype for t in weights.values()} == {torch.float16}  # shipped in half precision
    model = AutoModelForCausalLM.from_pretrained(out)
    assert model.config.num_hidden_layers == 2
    tokenizer = AutoTokenizer.from_pretrained(out)
    config = json.loads((out / "tokenizer_config.json").read_text())
    assert config["chat_template"] and config["eos_token"] == "<|im_end|>"
    golden = json.loads((out / "golden_token_ids.json").read_text())
    vector = golden_vectors()[0]
    assert golden[vector["name"]] == tokenizer(vector["prompt"], add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(golden[vector["name"]]) == vector["prompt"]

    table = (out / "eval.md").read_text()
    assert table.startswith("| system | coverage | invented_rate | format_compliance |")
    assert "## Evaluation on 4 held-out synthetic stays" in (out / "README.md").read_text()
    summary = json.loads((out / "training_summary.json").read_text())
    assert summary["steps"] == 6 and summary["train_seconds"] > 0
    assert sorted(p.name for p in work.glob("*.jsonl")) == ["test.jsonl", "train.jsonl", "validation.jsonl"]
