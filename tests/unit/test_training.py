"""Training on tiny Qwen2 models with the real Qwen2.5 tokenizer: masking, LoRA, merge, resume, configs and data errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

from clinical.contract import GOLDEN_TODAY, epicrisis_prompt, example_records
from clinical.record import HospitalStay
from devtools.tiny_models import tiny_model
from tests.support.training import PAIRS, assert_merge_is_the_adapter
from training.config import ConfigError, load_config
from training.datasets import ChatExample, DatasetError, epicrisis_example, read_jsonl
from training.encode import IGNORE, PadCollator, encode
from training.modeling import choose_dtype, load_model, load_tokenizer, model_info


@pytest.fixture(scope="module")
def base() -> Path:
    # A wider init than the default 0.02 gives non-uniform logits, so a few steps visibly learn. The
    # shared cached checkpoint: training and merging only read it.
    return tiny_model("qwen2.5-tiny", initializer_range=0.2)


@pytest.fixture(scope="module")
def translation_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "train.jsonl"
    path.write_text("".join(json.dumps({"source": s, "target": t}) + "\n" for s, t in PAIRS * 2))
    return path


def config(base: Path, data: Path, out: Path, *extra: str):
    return load_config(None, [
        f"model.base_model={base}", "data.task=translation", f"data.train_file={data}", f"train.output_dir={out}",
        "train.batch_size=4", "train.gradient_accumulation=1", "train.learning_rate=0.02", "train.logging_steps=1",
        "train.warmup_ratio=0", "train.lr_scheduler=constant", "lora.r=4", "lora.alpha=8", "lora.dropout=0", *extra,
    ])


def logged_losses(run_dir: Path) -> list[float]:
    lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [line["loss"] for line in lines if "loss" in line]


def test_labels_mask_the_prompt_and_learn_the_end_of_turn(base: Path) -> None:
    tokenizer = load_tokenizer(str(base))
    stay = HospitalStay.model_validate(example_records()["minimo"], context={"today": GOLDEN_TODAY})
    example = epicrisis_example(stay, "DIAGNÓSTICOS DE EGRESO\n1. Asma bronquial (CIE-10: J45.9)")
    enc = encode(tokenizer, example)
    prompt_len = len(tokenizer(epicrisis_prompt(stay), add_special_tokens=False)["input_ids"])
    assert tokenizer.decode(enc["input_ids"][:prompt_len]) == epicrisis_prompt(stay)
    assert enc["labels"][:prompt_len] == [IGNORE] * prompt_len
    assert enc["labels"][prompt_len:] == enc["input_ids"][prompt_len:]
    assert enc["labels"][-1] == tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert tokenizer.pad_token == "<|endoftext|>" != tokenizer.eos_token == "<|im_end|>"

    batch = PadCollator(tokenizer.pad_token_id)([enc, encode(tokenizer, ChatExample(example.messages, "x"))])
    short = batch["attention_mask"][1]
    assert batch["input_ids"].shape == batch["labels"].shape
    assert (batch["labels"][1][short == 0] == IGNORE).all() and (short == 0).any()


def test_lora_training_lowers_the_loss_and_leaves_the_base_alone(base: Path, translation_file: Path,
                                                                 tmp_path: Path) -> None:
    from training.sft import train

    result = train(config(base, translation_file, tmp_path / "run", "train.max_steps=12"))
    losses = logged_losses(tmp_path / "run")
    assert len(losses) == 12 and losses[-1] < losses[0] * 0.9

    adapter = load_file(result.final_dir / "adapter_model.safetensors")
    lora_b = [t for name, t in adapter.items() if "lora_B" in name]
    assert lora_b and all(t.abs().sum() > 0 for t in lora_b)  # B starts at zero: it was trained
    assert not any("lora" not in name for name in adapter)  # the adapter file holds adapters only

    from peft import PeftModel

    original = AutoModelForCausalLM.from_pretrained(base)
    tuned = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), result.final_dir)
    base_weights = {n.replace("base_model.model.", "").replace(".base_layer", ""): p
                    for n, p in tuned.named_parameters() if "lora_" not in n}
    for name, param in original.named_parameters():
        assert torch.equal(param, base_weights[name]), name


def test_merged_model_computes_what_the_adapter_model_computes(base: Path, translation_file: Path,
                                                               tmp_path: Path) -> None:

    from training.merge import merge_adapter
    from training.sft import train

    result = train(config(base, translation_file, tmp_path / "run", "train.max_steps=4"))
    merged_dir = merge_adapter(result.final_dir, tmp_path / "merged")
    assert_merge_is_the_adapter(merged_dir, base, result.final_dir, tol=1e-5)
    assert json.loads((merged_dir / "alta_merge.json").read_text())["lora_rank"] == 4
    with pytest.raises(ValueError, match="never 4-bit"):
        merge_adapter(result.final_dir, tmp_path / "bad", dtype="int4")


def test_resume_continues_from_the_saved_step(base: Path, translation_file: Path, tmp_path: Path) -> None:
    from training.sft import train

    out = tmp_path / "run"
    train(config(base, translation_file, out, "train.max_steps=4", "train.save_steps=2"))
    assert (out / "checkpoint-4").is_dir()
    first_steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    result = train(config(base, translation_file, out, "train.max_steps=6", "train.save_steps=2", "train.resume=true"))
    all_steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    resumed = all_steps[len(first_steps):]
    assert result.steps == 6
    assert min(s for s in resumed if s) == 5  # steps 1-4 were not repeated


def test_full_fine_tuning_from_scratch_trains_every_weight(base: Path, translation_file: Path) -> None:
    cfg = load_config(None, [f"model.base_model={base}", "model.from_scratch=true", "lora.enabled=false",
                             "data.task=translation", f"data.train_file={translation_file}"])
    model = load_model(cfg, load_tokenizer(str(base)))
    info = model_info(model)
    assert info.trainable_parameters == info.total_parameters > 0 and info.dtype == "float32"
    pretrained = AutoModelForCausalLM.from_pretrained(base)
    assert not torch.equal(next(model.parameters()), next(pretrained.parameters()))  # random, not loaded


def test_config_errors_say_what_to_change(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="model.base_model is missing: add"):
        load_config(None, ["data.train_file=x.jsonl"])
    with pytest.raises(ConfigError, match="unknown key.*lora.rank"):
        load_config(None, ["model.base_model=m", "data.train_file=x", "lora.rank=8"])
    with pytest.raises(ConfigError, match="data.train_file is missing"):
        load_config(None, ["model.base_model=m"])
    with pytest.raises(ConfigError, match="from_scratch.*lora.enabled: false"):
        load_config(None, ["model.base_model=m", "data.train_file=x", "model.from_scratch=true"])
    for shipped in sorted(Path("training/configs").glob("*.yaml")):
        assert load_config(shipped).model.base_model


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised on machines without CUDA")
def test_qlora_without_cuda_is_a_clear_error(base: Path, translation_file: Path) -> None:
    cfg = load_config(None, [f"model.base_model={base}", "data.task=translation", f"data.train_file={translation_file}",
                             "quantization.load_in_4bit=true"])
    with pytest.raises(ConfigError, match="needs a CUDA GPU.*load_in_4bit: false"):
        load_model(cfg, load_tokenizer(str(base)))
    assert choose_dtype("auto") == torch.float32


def test_bad_jsonl_lines_are_all_reported_by_line(tmp_path: Path) -> None:
    record = example_records()["minimo"]
    bad_record = json.loads(json.dumps(record))
    bad_record["discharge"]["discharged_on"] = "2026-05-01"
    lines = [
        json.dumps({"record": record, "epicrisis": "texto"}),
        "{not json",
        json.dumps({"record": bad_record, "epicrisis": "texto"}),
        json.dumps({"record": record}),
        json.dumps([1, 2]),
    ]
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError) as info:
        read_jsonl(path, "epicrisis")
    message = str(info.value)
    assert "4 bad line(s)" in message
    assert "line 2: not valid JSON" in message
    assert "line 3: discharge.discharged_on: discharge is before admission" in message
    assert "line 4: expected keys record and epicrisis" in message and "line 5: each line must be a JSON object" in message
    assert record["patient"]["name"] not in message


def test_translation_placeholders_must_match(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps({"source": "Paciente __PHI_NOMBRE_1__.", "target": "Patient __PHI_NOMBRE_2__."}) + "\n")
    with pytest.raises(DatasetError, match="line 1: the placeholders"):
        read_jsonl(path, "translation")


def test_reasoning_records_use_the_huatuo_format(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps({"Question": "¿Dosis de paracetamol?", "Complex_CoT": "Adulto, 70 kg.",
                                "Response": "1 g cada 8 horas."}) + "\n"
                    + json.dumps({"question": "q", "thinking": "t", "answer": "a"}) + "\n")
    first, second = read_jsonl(path, "reasoning")
    assert first.answer == "## Thinking\n\nAdulto, 70 kg.\n\n## Final Response\n\n1 g cada 8 horas."
    assert first.messages[0]["role"] == "system" and first.messages[1]["content"] == "¿Dosis de paracetamol?"
    assert second.answer.startswith("## Thinking\n\nt")


def test_eval_cli_compares_systems_side_by_side(base: Path, translation_file: Path, tmp_path: Path) -> None:
    from clinical.writer import render_epicrisis
    from training.__main__ import main

    rows = []
    for raw in example_records().values():
        stay = HospitalStay.model_validate(raw, context={"today": GOLDEN_TODAY})
        rows.append(json.dumps({"record": raw, "epicrisis": render_epicrisis(stay)}, ensure_ascii=False))
    data = tmp_path / "test.jsonl"
    data.write_text("\n".join(rows) + "\n")
    assert main(["eval", "--task", "epicrisis", "--data", str(data), "--model", f"tiny={base}", "template",
                 "--out", str(tmp_path / "ev"), "--max-new-tokens", "8"]) == 0
    results = json.loads((tmp_path / "ev" / "eval_epicrisis.json").read_text())
    assert results["template"]["coverage"] == 1.0 and results["template"]["format_compliance"] == 1.0
    assert results["tiny"]["coverage"] < 0.5 and results["tiny"]["perplexity"] > 1  # a random model
    assert "| tiny |" in (tmp_path / "ev" / "eval_epicrisis.md").read_text()

    assert main(["eval", "--task", "translation", "--data", str(translation_file), "--model", "reference",
                 f"tiny={base}", "--out", str(tmp_path / "ev"), "--max-new-tokens", "4"]) == 0
    scores = json.loads((tmp_path / "ev" / "eval_translation.json").read_text())
    assert scores["reference"]["chrf"] == 100.0 and scores["reference"]["placeholder_preservation"] == 1.0
    assert scores["tiny"]["chrf"] < 50
