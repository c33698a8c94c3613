"""The offline Qwen2.5 tokenizer (devtools/qwen_tokenizer.py) is Qwen2.5's, id for id."""

import json

import pytest

from devtools import qwen_tokenizer as qt


@pytest.fixture(scope="module")
def tok():
    return qt.load(qt.build(quiet=True))


def test_vocabulary_and_special_ids(tok):
    assert len(tok) == qt.VOCAB_SIZE == 151_665
    assert tok.convert_tokens_to_ids(["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|file_sep|>"]) == [
        151_643, 151_644, 151_645, 151_664]
    assert not any(t.startswith("[PAD") for t in tok.get_vocab())
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|endoftext|>"


@pytest.mark.parametrize(("text", "ids"), [
    # llama.cpp's reference ids for Qwen2 (ggml-vocab-qwen2.gguf.out)
    ("Hello world", [9707, 1879]),
    (" Hello world", [21927, 1879]),
    (" Hello World!", [21927, 4337, 0]),
    ("Hello, world!", [9707, 11, 1879, 0]),
])
def test_reference_ids(tok, text, ids):
    assert tok.encode(text, add_special_tokens=False) == ids


def test_chat_template_is_qwen25s(tok):
    ids = tok.apply_chat_template([{"role": "system", "content": "S"}, {"role": "user", "content": "Hola"}],
                                  add_generation_prompt=True)
    assert ids[:3] == [151_644, 8948, 198]  # <|im_start|>system\n
    assert ids[-3:] == [151_644, 77091, 198]  # <|im_start|>assistant\n
    default = tok.apply_chat_template([{"role": "user", "content": "Hola"}], tokenize=False,
                                      add_generation_prompt=True)
    assert default.startswith("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud.")


def test_saved_config_carries_the_template_for_transformers_js(tok):
    config = json.loads((qt.DEFAULT_DIR / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert config["chat_template"] == qt.CHAT_TEMPLATE
    assert config["eos_token"] == "<|im_end|>"


def test_any_text_round_trips(tok):
    text = "Epicrisis: Sra. Ñúñez, 82 años — HbA1c 7,2 %; SatO₂ 94 %; 💊 paracetamol 1 g c/8 h\n\tfin"
    assert tok.decode(tok.encode(text, add_special_tokens=False)) == text


def test_wrong_vocabulary_is_refused(tok):
    with pytest.raises(qt.TokenizerBuildError, match="reference strings"):
        qt.verify(tok, [("Hello world", [1, 2])])
