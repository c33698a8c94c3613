"""The tiny test models (devtools.tiny_models): Qwen2.5's tokenizer and shapes, cached by what they are built from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from safetensors.torch import load_file

from devtools import qwen_tokenizer, tiny_models


def test_the_tiny_model_carries_qwen25s_vocabulary_and_layout(tiny_qwen2: Path) -> None:
    from transformers import AutoConfig, AutoTokenizer

    config = AutoConfig.from_pretrained(tiny_qwen2)
    assert (config.model_type, config.vocab_size, config.hidden_size, config.num_hidden_layers) == ("qwen2", 151_936, 16, 2)
    assert (config.num_attention_heads, config.num_key_value_heads, config.tie_word_embeddings) == (4, 2, True)
    assert (config.eos_token_id, config.pad_token_id, config.max_position_embeddings) == (151_645, 151_643, 32_768)
    tokenizer = AutoTokenizer.from_pretrained(tiny_qwen2)
    assert len(tokenizer) == qwen_tokenizer.VOCAB_SIZE == 151_665
    assert (tiny_qwen2 / "tokenizer.json").read_bytes() == (qwen_tokenizer.DEFAULT_DIR / "tokenizer.json").read_bytes()
    # Qwen2.5's own ids: ChatML markers, and a Spanish clinical phrase in Qwen's pieces
    assert tokenizer.convert_tokens_to_ids(["<|im_start|>", "<|im_end|>"]) == [151_644, 151_645]
    ids = tokenizer.encode("Paciente de 67 años con HTA", add_special_tokens=False)
    assert tokenizer.decode(ids) == "Paciente de 67 años con HTA" and len(ids) < 12
    weights = load_file(tiny_qwen2 / "model.safetensors")
    assert tuple(weights["model.embed_tokens.weight"].shape) == (151_936, 16)
    assert "lm_head.weight" not in weights  # tied


def test_the_cache_key_follows_the_spec_the_seed_and_the_tokenizer(tmp_path: Path) -> None:
    first = tiny_models.tiny_model("qwen2.5-tiny", root=tmp_path, hidden=8, layers=1)
    assert tiny_models.tiny_model("qwen2.5-tiny", root=tmp_path, hidden=8, layers=1) == first  # reused
    assert first.name.startswith("qwen2.5-tiny-") and json.loads((first / "alta_tiny.json").read_text())["seed"] == 0
    other_seed = tiny_models.tiny_model("qwen2.5-tiny", root=tmp_path, hidden=8, layers=1, seed=1)
    other_shape = tiny_models.tiny_model("qwen2.5-tiny", root=tmp_path, hidden=8, layers=2)
    assert len({first, other_seed, other_shape}) == 3
    spec = tiny_models.spec_of("qwen2.5-tiny", hidden=8, layers=1)
    assert tiny_models.cache_key(spec, 0, "a" * 64) != tiny_models.cache_key(spec, 0, "b" * 64)  # the tokenizer
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in (first, other_seed, other_shape))


def test_impossible_shapes_and_names_are_refused() -> None:
    with pytest.raises(ValueError, match="split into the heads"):
        tiny_models.spec_of("qwen2.5-tiny", hidden=10)
    with pytest.raises(ValueError, match="smaller than the tokenizer"):
        tiny_models.spec_of("qwen2.5-tiny", vocab_rows=1024)
    with pytest.raises(ValueError, match="untied"):
        tiny_models.spec_of("qwen2.5-tiny", shrink_unused=0.1)
    with pytest.raises(KeyError, match="qwen2.5-tiny"):
        tiny_models.spec_of("llama")


def test_the_untied_model_keeps_the_contracts_tokens_likely(tiny_qwen2_untied: Path) -> None:
    head = load_file(tiny_qwen2_untied / "model.safetensors")["lm_head.weight"]
    used = list(tiny_models.used_token_ids())
    assert 1_000 < len(used) < 5_000 and qwen_tokenizer.IM_END in used
    unused = sorted(set(range(head.shape[0])) - set(used))
    norms = head.norm(dim=1)
    spec = tiny_models.MODELS["qwen2.5-tiny-untied"]
    ratio = float(norms[unused].mean() / norms[used].mean())
    assert ratio == pytest.approx(spec.shrink_unused, rel=0.1)


def test_the_cli_lists_and_builds(tmp_path: Path, capsys) -> None:
    assert tiny_models.main(["--list"]) == 0
    listed = capsys.readouterr().out
    assert "qwen2.5-tiny\thidden 16, 2 layers, 4/2 heads, tied, 151,936 embedding rows" in listed
    assert tiny_models.main(["nope"]) == 2
    assert tiny_models.main(["qwen2.5-tiny", "--root", str(tmp_path)]) == 0
    name, path = capsys.readouterr().out.strip().split("\t")
    assert name == "qwen2.5-tiny" and (Path(path) / "model.safetensors").is_file()
