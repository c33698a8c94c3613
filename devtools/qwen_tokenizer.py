"""The real Qwen2.5 tokenizer, built offline from a registry package.

Nothing here downloads a model. The ``llama-cpp-python`` source distribution (PyPI, MIT) ships
llama.cpp's vocabulary test file ``models/ggml-vocab-qwen2.gguf``: Qwen2's byte-level BPE (151,643
tokens, 151,387 merges, Qwen's pre-tokenizer regex) with llama.cpp's reference token ids for a set of
hard strings (``.gguf.inp`` / ``.gguf.out``). transformers converts the gguf with the ``gguf`` package;
this module then drops llama.cpp's ``[PAD...]`` filler rows, adds Qwen2.5's 22 added tokens at their ids
(151643-151664), sets Qwen2.5's chat template and special tokens, and checks every reference string
against llama.cpp's ids before writing ``tokenizer.json`` and ``tokenizer_config.json``.

The result encodes text exactly as ``Qwen/Qwen2.5-*-Instruct`` does, so token counts, chunk budgets
and vocabulary work measured with it are Qwen2.5's. Tiny test models carry it (``devtools.tiny_models``).

    python -m devtools.qwen_tokenizer            # build into .cache/qwen2.5-tokenizer (once)
    python -m devtools.qwen_tokenizer --out DIR  # somewhere else

``ALTA_QWEN_GGUF`` names an already extracted ``ggml-vocab-qwen2.gguf`` (skips the download).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from devtools.paths import REPO

SDIST = "llama-cpp-python==0.3.36"
GGUF_MEMBER = "vendor/llama.cpp/models/ggml-vocab-qwen2.gguf"
DEFAULT_DIR = REPO / ".cache" / "qwen2.5-tokenizer"

BASE_VOCAB = 151_643  # byte-level BPE tokens, ids 0..151642
# Qwen2.5's added tokens, in id order from 151643 (tokenizer_config.json of Qwen2.5-*-Instruct):
# (content, special). The tool-call and fill-in-the-middle markers are not special there.
ADDED_TOKENS: tuple[tuple[str, bool], ...] = (
    ("<|endoftext|>", True), ("<|im_start|>", True), ("<|im_end|>", True),
    ("<|object_ref_start|>", True), ("<|object_ref_end|>", True), ("<|box_start|>", True),
    ("<|box_end|>", True), ("<|quad_start|>", True), ("<|quad_end|>", True),
    ("<|vision_start|>", True), ("<|vision_end|>", True), ("<|vision_pad|>", True),
    ("<|image_pad|>", True), ("<|video_pad|>", True), ("<tool_call>", False), ("</tool_call>", False),
    ("<|fim_prefix|>", False), ("<|fim_middle|>", False), ("<|fim_suffix|>", False),
    ("<|fim_pad|>", False), ("<|repo_name|>", False), ("<|file_sep|>", False),
)
VOCAB_SIZE = BASE_VOCAB + len(ADDED_TOKENS)  # 151,665 (the model's embedding has 151,936 rows)
IM_START, IM_END, ENDOFTEXT = 151_644, 151_645, 151_643

# Qwen2.5-Instruct's template without tool calls (the contract never sends tools): a system turn is
# added when the conversation has none, exactly as the model was trained.
CHAT_TEMPLATE = (
    "{%- if messages[0]['role'] == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{%- if not (loop.first and message['role'] == 'system') %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


class TokenizerBuildError(RuntimeError):
    """The gguf could not be had or converted, or its ids disagree with llama.cpp's references."""


def _fetch_gguf(work: Path) -> Path:
    """``ggml-vocab-qwen2.gguf`` and its reference files, from ``ALTA_QWEN_GGUF`` or the sdist."""
    given = os.environ.get("ALTA_QWEN_GGUF")
    if given:
        path = Path(given)
        if not path.is_file():
            raise TokenizerBuildError(f"ALTA_QWEN_GGUF={given} is not a file")
        return path
    cmd = [sys.executable, "-m", "pip", "download", SDIST, "--no-binary", ":all:", "--no-deps",
           "--disable-pip-version-check", "-q", "-d", str(work)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    sdists = sorted(work.glob("llama_cpp_python-*.tar.gz"))
    if done.returncode or not sdists:
        raise TokenizerBuildError(
            f"could not download the {SDIST} source distribution from the package index "
            f"(pip said: {done.stderr.strip().splitlines()[-1:]}); set ALTA_QWEN_GGUF to a local "
            "ggml-vocab-qwen2.gguf instead")
    with tarfile.open(sdists[0]) as tar:
        for member in tar.getmembers():
            if member.name.split("/", 1)[-1] in (GGUF_MEMBER, GGUF_MEMBER + ".inp", GGUF_MEMBER + ".out"):
                member.name = Path(member.name).name
                tar.extract(member, work, filter="data")
    path = work / Path(GGUF_MEMBER).name
    if not path.is_file():
        raise TokenizerBuildError(f"{SDIST} no longer ships {GGUF_MEMBER}")
    return path


def _reference_pairs(gguf: Path) -> list[tuple[str, list[int]]]:
    """llama.cpp's test strings and the ids Qwen2's tokenizer gives them (empty when absent)."""
    inp, out = Path(f"{gguf}.inp"), Path(f"{gguf}.out")
    if not (inp.is_file() and out.is_file()):
        return []
    texts = inp.read_text(encoding="utf-8").split("\n__ggml_vocab_test__\n")
    ids = out.read_text(encoding="utf-8").split("\n")
    return [(t, [int(x) for x in i.split()]) for t, i in zip(texts, ids, strict=False)]


def _rebuild(tokenizer_json: dict) -> dict:
    """The converted tokenizer.json with Qwen2.5's vocabulary: base BPE rows plus the 22 added tokens."""
    vocab = tokenizer_json["model"]["vocab"]
    base = {tok: i for tok, i in vocab.items() if i < BASE_VOCAB}
    if len(base) != BASE_VOCAB or sorted(base.values()) != list(range(BASE_VOCAB)):
        raise TokenizerBuildError(f"expected {BASE_VOCAB} base tokens with ids 0..{BASE_VOCAB - 1}")
    tokenizer_json["model"]["vocab"] = base
    tokenizer_json["added_tokens"] = [
        {"id": BASE_VOCAB + k, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": False, "special": special}
        for k, (content, special) in enumerate(ADDED_TOKENS)]
    return tokenizer_json


def build(out_dir: Path = DEFAULT_DIR, *, quiet: bool = False) -> Path:
    """Write the Qwen2.5 tokenizer to ``out_dir`` (idempotent: an existing complete build is kept)."""
    out_dir = Path(out_dir)
    if (out_dir / "tokenizer.json").is_file() and (out_dir / "tokenizer_config.json").is_file():
        return out_dir
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        gguf = _fetch_gguf(work)
        converted = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        converted.save_pretrained(work / "converted")
        data = _rebuild(json.loads((work / "converted" / "tokenizer.json").read_text(encoding="utf-8")))
        raw = work / "tokenizer.json"
        raw.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        tok = PreTrainedTokenizerFast(
            tokenizer_file=str(raw), eos_token="<|im_end|>", pad_token="<|endoftext|>",
            model_max_length=32_768, clean_up_tokenization_spaces=False)
        tok.chat_template = CHAT_TEMPLATE
        verify(tok, _reference_pairs(gguf))
        staging = out_dir.with_name(out_dir.name + ".partial")
        tok.save_pretrained(staging)
        _config_with_template(staging, tok)
        staging.replace(out_dir) if not out_dir.exists() else _swap(staging, out_dir)
    if not quiet:
        print(f"Qwen2.5 tokenizer ({len(tok)} tokens) written to {out_dir}")
    return out_dir


def _swap(staging: Path, out_dir: Path) -> None:
    import shutil

    shutil.rmtree(out_dir)
    staging.replace(out_dir)


def _config_with_template(directory: Path, tok) -> None:
    """Transformers.js reads the chat template from tokenizer_config.json; keep Qwen's class name."""
    path = directory / "tokenizer_config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    config.update(chat_template=tok.chat_template, tokenizer_class="Qwen2Tokenizer", bos_token=None,
                  errors="replace", split_special_tokens=False)
    path.write_text(json.dumps(config, ensure_ascii=False, indent=2), encoding="utf-8")


def verify(tok, references: list[tuple[str, list[int]]]) -> None:
    """Raise unless ``tok`` is Qwen2.5's: size, special ids, llama.cpp's reference ids, a round trip."""
    if len(tok) != VOCAB_SIZE:
        raise TokenizerBuildError(f"{len(tok)} tokens, expected {VOCAB_SIZE}")
    got = tok.convert_tokens_to_ids(["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
    if got != [ENDOFTEXT, IM_START, IM_END]:
        raise TokenizerBuildError(f"special token ids {got}")
    wrong = [text for text, ids in references if tok.encode(text, add_special_tokens=False) != ids]
    if wrong:
        raise TokenizerBuildError(f"{len(wrong)} of {len(references)} llama.cpp reference strings encode differently")
    sample = "Paciente de 67 años, HTA y DM2; amoxicilina/ác. clavulánico 875/125 mg c/12 h × 7 días. ñandú"
    if tok.decode(tok.encode(sample, add_special_tokens=False)) != sample:
        raise TokenizerBuildError("the byte-level round trip lost text")


def load(path: Path = DEFAULT_DIR):
    """The built tokenizer (build it first with :func:`build` or ``make qwen-tokenizer``)."""
    from transformers import AutoTokenizer

    if not (Path(path) / "tokenizer.json").is_file():
        raise TokenizerBuildError(f"no Qwen2.5 tokenizer at {path}: run `python -m devtools.qwen_tokenizer`")
    return AutoTokenizer.from_pretrained(str(path))


def digest(path: Path = DEFAULT_DIR) -> str:
    """sha256 of the built tokenizer.json (the cache key for models built on it)."""
    return hashlib.sha256((Path(path) / "tokenizer.json").read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.qwen_tokenizer", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_DIR)
    args = parser.parse_args(argv)
    try:
        build(args.out)
    except TokenizerBuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
