"""Vocabulary trimming and the medical vocabulary (training/vocab) on the real Qwen2.5 tokenizer and a
tiny random Qwen2 model with Qwen2.5's vocabulary: texts round-trip, the keep corpus keeps its tokens,
kept logits stay, new rows are their sub-tokens' mean, and Transformers.js encodes as Python does."""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import unicodedata
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devtools import qwen_tokenizer as qt
from devtools.paths import REPO
from training.vocab import bpe, corpus, medical
from training.vocab.corpus import Corpus
from training.vocab.trim import trim_checkpoint

tokenizers = pytest.importorskip("tokenizers")


def keep_texts() -> list[str]:
    """A small keep corpus: case reports, synthetic epicrises, the chat format, English."""
    return [*corpus.meddocan("train")[:40], *corpus.epicrises(corpus.SELECT_SEED, 30),
            *corpus.chat_texts(n=10), *corpus.tico("select", "en")[:200]]


def tiny_qwen(folder: Path, *, tied: bool) -> Path:
    """A 1-layer random Qwen2 with Qwen2.5's 151,936-row embedding, hidden 16, and the real tokenizer."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    config = Qwen2Config(vocab_size=151_936, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, tie_word_embeddings=tied,
                         bos_token_id=qt.ENDOFTEXT, eos_token_id=qt.IM_END, pad_token_id=qt.ENDOFTEXT)
    model = Qwen2ForCausalLM(config).eval()
    model.generation_config.eos_token_id = [qt.IM_END, qt.ENDOFTEXT]
    model.save_pretrained(folder, max_shard_size="8MB" if not tied else "5GB")  # untied: sharded, as big models are
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copyfile(qt.DEFAULT_DIR / name, folder / name)
    return folder


@pytest.fixture(scope="module")
def qwen_dir() -> Path:
    return qt.build(quiet=True)


@pytest.fixture(scope="module", params=[True, False], ids=["tied", "untied"])
def trimmed(request, qwen_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("tied" if request.param else "untied")
    src = tiny_qwen(root / "src", tied=request.param)
    result = trim_checkpoint(src, root / "trimmed", corpus=keep_texts())
    return src, result


@functools.lru_cache(maxsize=8)
def _tok(folder: Path):
    return tokenizers.Tokenizer.from_file(str(folder / "tokenizer.json"))


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return {k: v for shard in sorted(folder.glob("*.safetensors")) for k, v in load_file(shard).items()}


def _old_ids(folder: Path) -> list[int]:
    return json.loads((folder / "vocab_transform.json").read_text(encoding="utf-8"))["old_ids"]


def test_trimmed_vocabulary_is_small_and_consistent(trimmed):
    src, result = trimmed
    out = result.out_dir
    assert result.old_size == 151_936 and 1_000 < result.new_size < 40_000
    config = json.loads((out / "config.json").read_text())
    generation = json.loads((out / "generation_config.json").read_text())
    tok = _tok(out)
    assert config["vocab_size"] == result.new_size == tok.get_vocab_size()
    if not config["tie_word_embeddings"]:  # saved sharded: the index follows the shards
        index = json.loads((out / "model.safetensors.index.json").read_text())
        assert index["weight_map"] == json.loads((src / "model.safetensors.index.json").read_text())["weight_map"]
        assert len(set(index["weight_map"].values())) > 1
    im_end, eot = tok.token_to_id("<|im_end|>"), tok.token_to_id("<|endoftext|>")
    assert config["eos_token_id"] == im_end and config["pad_token_id"] == eot
    assert generation["eos_token_id"] == [im_end, eot]
    decoder = json.loads((out / "tokenizer_config.json").read_text())["added_tokens_decoder"]
    assert decoder[str(im_end)]["content"] == "<|im_end|>"
    assert all(tok.token_to_id(b) is not None for b in bpe.byte_tokens())
    # the added tokens follow the BPE vocabulary, contiguously, as tokenizers expects
    assert sorted(tok.get_added_tokens_decoder()) == list(range(result.new_size - 22, result.new_size))


def test_keep_corpus_encodes_to_the_same_token_strings(trimmed, qwen_dir):
    full, small = _tok(qwen_dir), _tok(trimmed[1].out_dir)
    texts = keep_texts()
    before = full.encode_batch(texts, add_special_tokens=False)
    after = small.encode_batch(texts, add_special_tokens=False)
    assert [e.tokens for e in after] == [e.tokens for e in before]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=80) | st.sampled_from(["日本語 🤖 Ελληνικά", "<|im_start|>user\nhola<|im_end|>",
                                                     "  \t\n\n x", "Ñúñez HbA1c 7,2 % SatO₂ 94 %"]))
def test_any_text_still_encodes_and_decodes_back(trimmed, qwen_dir, text):
    full, small = _tok(qwen_dir), _tok(trimmed[1].out_dir)
    ids = small.encode(text, add_special_tokens=False).ids
    assert all(0 <= i < small.get_vocab_size() for i in ids)
    assert small.decode(ids, skip_special_tokens=False) == unicodedata.normalize("NFC", text)
    assert small.decode(ids, skip_special_tokens=False) == full.decode(full.encode(text, add_special_tokens=False).ids,
                                                                      skip_special_tokens=False)


def test_kept_tokens_keep_their_logits(trimmed):
    from transformers import AutoModelForCausalLM

    src, result = trimmed
    old_ids = torch.tensor(_old_ids(result.out_dir))
    old = AutoModelForCausalLM.from_pretrained(src).eval()
    new = AutoModelForCausalLM.from_pretrained(result.out_dir).eval()
    text = corpus.chat_texts(n=1)[0][:600]
    old_input = _tok(src).encode(text, add_special_tokens=False).ids
    new_input = _tok(result.out_dir).encode(text, add_special_tokens=False).ids
    assert old_ids[new_input].tolist() == old_input
    with torch.no_grad():
        want = old(input_ids=torch.tensor([old_input])).logits[..., old_ids]
        got = new(input_ids=torch.tensor([new_input])).logits
    torch.testing.assert_close(got, want, rtol=0, atol=1e-5)
    assert old.config.tie_word_embeddings == new.config.tie_word_embeddings


def test_learn_merges_picks_the_pair_that_saves_most():
    words = {("a", "b", "c"): 5, ("a", "b"): 3, ("b", "c"): 4}
    merges = medical.learn_merges(words, 10, min_saving=2)
    assert [(m.left, m.right, m.saving) for m in merges] == [("b", "c", 9), ("a", "bc", 5), ("a", "b", 3)]
    assert medical.learn_merges(words, 10, min_saving=4)[-1].saving == 5  # stops below min_saving


@pytest.fixture(scope="module")
def extended(trimmed, tmp_path_factory):
    src, result = trimmed
    selection = [Corpus("synthetic", corpus.epicrises(corpus.SELECT_SEED, 30)), Corpus("drugs", corpus.drugs(), 20)]
    words = medical.word_counts(result.out_dir / "tokenizer.json", selection)
    merges = medical.learn_merges(words, 600, min_saving=3)
    out = tmp_path_factory.mktemp("medical") / "medical"
    return result.out_dir, medical.extend_checkpoint(result.out_dir, out, merges)


def test_medical_tokens_are_used_and_save_tokens(extended):
    base, ext = extended
    dev = corpus.epicrises(corpus.DEV_SEED, 5)
    before = _tok(base).encode_batch(list(dev), add_special_tokens=False)
    after = _tok(ext.out_dir).encode_batch(list(dev), add_special_tokens=False)
    new_ids = set(ext.new_tokens.values())
    assert any(i in new_ids for e in after for i in e.ids)
    assert sum(map(len, (e.ids for e in after))) < 0.9 * sum(map(len, (e.ids for e in before)))
    assert [_tok(ext.out_dir).decode(e.ids) for e in after] == list(dev)
    assert _tok(ext.out_dir).encode(" paracetamol", add_special_tokens=False).tokens == ["Ġparacetamol"]


def test_medical_rows_are_the_mean_of_their_sub_tokens(extended):
    base, ext = extended
    old, new = _weights(base), _weights(ext.out_dir)
    names = [n for n in new if n.endswith(("embed_tokens.weight", "lm_head.weight"))]
    assert new[names[0]].shape[0] == ext.new_size == ext.old_size + len(ext.new_tokens)
    word = "Ġparacetamol"  # a whole word: its parts are what the old tokenizer gives it
    assert ext.parts[word] == _tok(base).encode(" paracetamol", add_special_tokens=False).ids
    moved = json.loads((ext.out_dir / "vocab_transform.json").read_text())["moved_ids"]
    for name in names:
        for token, new_id in ext.new_tokens.items():
            torch.testing.assert_close(new[name][new_id], old[name][ext.parts[token]].mean(0))
        for old_id, new_id in moved.items():  # the added tokens moved with their rows
            assert torch.equal(new[name][new_id], old[name][int(old_id)])
        kept = len(old[name]) - len(moved)
        assert torch.equal(new[name][:kept], old[name][:kept])
    im_end = _tok(ext.out_dir).token_to_id("<|im_end|>")
    assert json.loads((ext.out_dir / "config.json").read_text())["eos_token_id"] == im_end


@pytest.mark.skipif(shutil.which("node") is None or not (REPO / "webapp" / "node_modules" / "@huggingface").is_dir(),
                    reason="node and the webapp's npm packages are needed for the Transformers.js parity check")
def test_transformers_js_encodes_the_extended_tokenizer_as_python(extended, tmp_path):
    _, ext = extended
    texts = [*corpus.epicrises(corpus.DEV_SEED, 3), *corpus.meddocan("dev")[:3],
             "<|im_start|>user\nParacetamol 1 g c/8 h 🤖<|im_end|>\n", "日本語 Ελληνικά  \t\n"]
    (tmp_path / "texts.json").write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
    run = subprocess.run(["node", str(REPO / "training" / "vocab" / "js_parity.mjs"), str(ext.out_dir),
                          str(tmp_path / "texts.json")], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    js = json.loads(run.stdout)
    python = [e.ids for e in _tok(ext.out_dir).encode_batch(texts, add_special_tokens=False)]
    assert js["ids"] == python
    assert js["decoded"] == texts


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=60) | st.sampled_from(["Paracetamol 1 g c/8 h; amoxicilina/ác. clavulánico",
                                                     "HIPERTENSIÓN ARTERIAL 🤖 <|im_end|>"]))
def test_extended_tokenizer_round_trips_any_text(extended, text):
    tok = _tok(extended[1].out_dir)
    assert tok.decode(tok.encode(text, add_special_tokens=False).ids, skip_special_tokens=False) == \
        unicodedata.normalize("NFC", text)


def test_vocab_subcommands_are_wired():
    from training.__main__ import make_parser

    args = make_parser().parse_args(["vocab", "trim", "--src", "a", "--out", "b", "--pad-to", "64"])
    assert (args.command, args.vocab_command, args.pad_to) == ("vocab", "trim", 64)
    assert make_parser().parse_args(["vocab", "medical", "--src", "a", "--out", "b"]).max_merges == 16_000


def test_warmup_trains_the_new_rows_only(extended):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from training.datasets import epicrisis_example
    from training.vocab.warmup import likelihood, train_new_rows

    _, ext = extended
    model = AutoModelForCausalLM.from_pretrained(ext.out_dir)
    tokenizer = AutoTokenizer.from_pretrained(ext.out_dir)
    examples = [epicrisis_example(e.stay, e.text) for e in corpus.synthetic(corpus.SELECT_SEED, 30)[:2]]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    new_ids = sorted(ext.new_tokens.values())
    start = likelihood(model, tokenizer, examples)
    done = train_new_rows(model, tokenizer, examples, new_ids, steps=3, seconds=60, lr=1e-2)
    assert done["steps"] == 3
    old = torch.ones(ext.new_size, dtype=torch.bool)
    old[new_ids] = False
    for name, value in model.state_dict().items():
        if name.endswith(("embed_tokens.weight", "lm_head.weight")):
            assert torch.equal(value[old], before[name][old])
            assert not torch.equal(value[~old], before[name][~old])
        else:
            assert torch.equal(value, before[name]), name
    assert likelihood(model, tokenizer, examples).nll < start.nll  # it learnt from what it was shown
