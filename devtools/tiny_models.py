"""Tiny random Qwen2 checkpoints that carry the real Qwen2.5 tokenizer, for tests and benchmarks.

In the style of TRL's ``scripts/generate_tiny_models``: each model is Qwen2.5's architecture shrunk
(hidden size 16, 2 layers, grouped-query attention with 4 query and 2 key/value heads, tied
embeddings, RoPE theta 1e6, a 32,768-token context) with random weights, saved as a loadable
checkpoint beside the real Qwen2.5 tokenizer (:mod:`devtools.qwen_tokenizer`, 151,665 tokens). Token
counts, chunk budgets, context limits and the ONNX shapes tests see are therefore Qwen2.5's.

The embedding has 151,936 rows, as in every Qwen2.5 checkpoint: the 271 rows past the tokenizer are
padding the real model has too, so the engines meet logits wider than the vocabulary in tests, not
first in production. Hidden size 16 keeps that embedding at 9.7 MB.

Models are built once and cached under ``.cache/tiny-models/<name>-<key>``; the key hashes the model's
spec, the seed and the tokenizer's sha256, so a change to either builds a new one. Tests get them from
the fixtures in ``tests/support/tiny_models.py``, benchmarks from :func:`tiny_model`.

    python -m devtools.tiny_models                 # build every named model, print their paths
    python -m devtools.tiny_models qwen2.5-tiny    # one of them
    python -m devtools.tiny_models --list          # names and shapes
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import hashlib
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from devtools import qwen_tokenizer
from devtools.paths import REPO

CACHE = REPO / ".cache" / "tiny-models"
FORMAT = 1  # bump when the files a build writes change, so old cache entries are not reused
QWEN25_EMBEDDING_ROWS = 151_936  # Qwen2.5-0.5B/1.5B/7B-Instruct's vocab_size (the tokenizer has 151,665)
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja")


@dataclass(frozen=True)
class TinySpec:
    """A Qwen2 shape; every field goes into the cache key."""

    hidden: int = 16
    layers: int = 2
    heads: int = 4
    kv_heads: int = 2
    intermediate: int = 0  # 0: four times the hidden size
    tie_embeddings: bool = True
    vocab_rows: int = QWEN25_EMBEDDING_ROWS
    max_positions: int = 32_768
    rope_theta: float = 1_000_000.0
    rms_norm_eps: float = 1e-6
    initializer_range: float = 0.02
    # Untied models only: lm_head rows of tokens the contract's corpus never uses are multiplied by this,
    # as training would shrink them. A random model's top-1 logit over 151,936 rows then has the margin
    # a trained model's has (1.0: every row random, the top-1 a near tie that 4-bit weights flip).
    shrink_unused: float = 1.0

    def __post_init__(self) -> None:
        if self.shrink_unused != 1.0 and self.tie_embeddings:
            raise ValueError("shrink_unused needs untied embeddings (it would shrink the input embedding too)")
        if self.vocab_rows < qwen_tokenizer.VOCAB_SIZE:
            raise ValueError(f"vocab_rows={self.vocab_rows} is smaller than the tokenizer ({qwen_tokenizer.VOCAB_SIZE})")
        if self.hidden % self.heads or self.heads % self.kv_heads:
            raise ValueError(f"hidden={self.hidden}, heads={self.heads}, kv_heads={self.kv_heads}: the hidden size must "
                             "split into the heads, and the heads into the key/value groups")


# The named models. Tests and benchmarks may also pass overrides (tiny_model("qwen2.5-tiny", hidden=32)).
MODELS: dict[str, TinySpec] = {
    # Qwen2.5-0.5B's layout shrunk: tied embeddings, GQA 4/2.
    "qwen2.5-tiny": TinySpec(),
    # Untied: a random tied model mostly repeats its input token; an untied one writes varied (and
    # UTF-8-splitting) text, which the export and streaming tests need. Its unused rows shrunk, so
    # every dtype passes the export gate (export/validate.py) as a trained model's would: all rows
    # random, seed 0 reached q4 top-1 agreement 0.74-0.77 at hidden 16 and 64 (the gate asks 0.8);
    # shrunk, 0.805 at hidden 16 and 0.86 at hidden 32, hence 32. Its context is the 4,096 tokens Alta's
    # epicrisis config trains and serves (vLLM's --max-model-len), so a too-long prompt stays cheap to test.
    "qwen2.5-tiny-untied": TinySpec(hidden=32, tie_embeddings=False, shrink_unused=0.05, max_positions=4096),
}


def spec_of(name: str, **overrides) -> TinySpec:
    if name not in MODELS:
        raise KeyError(f"no tiny model named {name!r}; the names are {sorted(MODELS)}")
    return dataclasses.replace(MODELS[name], **overrides)


def contract_corpus() -> list[str]:
    """The shipped example records' prompts and template epicrisis, and the lexicon's drugs: the text
    the tests send and expect, so the tokens a test model should find likely."""
    from importlib import resources

    from clinical.contract import GOLDEN_TODAY, epicrisis_prompt, example_records
    from clinical.record import HospitalStay
    from clinical.writer import render_epicrisis

    texts = []
    for raw in example_records().values():
        stay = HospitalStay.model_validate(raw, context={"today": GOLDEN_TODAY})
        texts += [epicrisis_prompt(stay), render_epicrisis(stay)]
    texts.append(resources.files("clinical.lexicon").joinpath("drugs.tsv").read_text(encoding="utf-8"))
    return texts


@functools.cache
def used_token_ids(tokenizer_dir: Path = qwen_tokenizer.DEFAULT_DIR) -> tuple[int, ...]:
    """Ids of :func:`contract_corpus`'s tokens, the 256 byte tokens and the added tokens, sorted."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(Path(tokenizer_dir) / "tokenizer.json"))
    ids = set(range(256)) | set(range(qwen_tokenizer.BASE_VOCAB, qwen_tokenizer.VOCAB_SIZE))
    for text in contract_corpus():
        ids.update(tokenizer.encode(text, add_special_tokens=False).ids)
    return tuple(sorted(ids))


def cache_key(spec: TinySpec, seed: int, tokenizer_digest: str, used: tuple[int, ...] = ()) -> str:
    """12 hex digits of sha256 over the spec, the seed, the tokenizer, the used ids and :data:`FORMAT`."""
    blob = json.dumps({"spec": dataclasses.asdict(spec), "seed": seed, "tokenizer": tokenizer_digest,
                       "used": hashlib.sha256(repr(used).encode()).hexdigest() if used else None,
                       "format": FORMAT}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def qwen2_config(spec: TinySpec):
    """The transformers ``Qwen2Config`` for ``spec``, with Qwen2.5's special token ids."""
    from transformers import Qwen2Config

    return Qwen2Config(
        vocab_size=spec.vocab_rows,
        hidden_size=spec.hidden,
        intermediate_size=spec.intermediate or 4 * spec.hidden,
        num_hidden_layers=spec.layers,
        num_attention_heads=spec.heads,
        num_key_value_heads=spec.kv_heads,
        max_position_embeddings=spec.max_positions,
        rope_theta=spec.rope_theta,
        rms_norm_eps=spec.rms_norm_eps,
        initializer_range=spec.initializer_range,
        tie_word_embeddings=spec.tie_embeddings,
        use_sliding_window=False,
        bos_token_id=qwen_tokenizer.ENDOFTEXT,
        eos_token_id=qwen_tokenizer.IM_END,
        pad_token_id=qwen_tokenizer.ENDOFTEXT,
        dtype="float32",
    )


def write_checkpoint(spec: TinySpec, seed: int, out: Path, tokenizer_dir: Path) -> Path:
    """A random Qwen2 of ``spec`` and the tokenizer files of ``tokenizer_dir``, saved to ``out``."""
    import torch
    from transformers import GenerationConfig, Qwen2ForCausalLM

    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(qwen2_config(spec)).eval()
    if spec.shrink_unused != 1.0:
        unused = torch.ones(spec.vocab_rows, dtype=torch.bool)
        unused[list(used_token_ids(tokenizer_dir))] = False
        with torch.no_grad():
            model.lm_head.weight[unused] *= spec.shrink_unused
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    GenerationConfig(bos_token_id=qwen_tokenizer.ENDOFTEXT, eos_token_id=qwen_tokenizer.IM_END,
                     pad_token_id=qwen_tokenizer.ENDOFTEXT, do_sample=False).save_pretrained(out)
    for name in TOKENIZER_FILES:
        if (tokenizer_dir / name).is_file():
            shutil.copyfile(tokenizer_dir / name, out / name)
    (out / "alta_tiny.json").write_text(json.dumps({"spec": dataclasses.asdict(spec), "seed": seed,
                                                    "tokenizer_sha256": qwen_tokenizer.digest(tokenizer_dir)},
                                                   indent=2) + "\n", encoding="utf-8")
    return out


def tiny_model(name: str = "qwen2.5-tiny", *, seed: int = 0, root: Path = CACHE,
               tokenizer_dir: Path = qwen_tokenizer.DEFAULT_DIR, **overrides) -> Path:
    """The cached checkpoint directory of model ``name`` (built on first use; treat it as read-only).

    Builds the Qwen2.5 tokenizer first when it is missing (a registry download, once). Safe to call
    from several processes at once: each builds in its own staging directory and the first rename wins.
    """
    spec = spec_of(name, **overrides)
    if not (Path(tokenizer_dir) / "tokenizer.json").is_file():
        qwen_tokenizer.build(Path(tokenizer_dir), quiet=True)
    used = used_token_ids(Path(tokenizer_dir)) if spec.shrink_unused != 1.0 else ()
    out = Path(root) / f"{name}-{cache_key(spec, seed, qwen_tokenizer.digest(tokenizer_dir), used)}"
    if (out / "alta_tiny.json").is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        write_checkpoint(spec, seed, staging, Path(tokenizer_dir))
        staging.chmod(0o755)  # mkdtemp's 0700 would hide a shared cache from other users
        try:
            os.rename(staging, out)
        except OSError:
            if not (out / "alta_tiny.json").is_file():  # not another process's finished build: a real error
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out


def copy_of(name: str = "qwen2.5-tiny", dest: Path | None = None, **kwargs) -> Path:
    """A writable copy of :func:`tiny_model` (for tests that change the checkpoint)."""
    source = tiny_model(name, **kwargs)
    dest = Path(dest) if dest is not None else Path(tempfile.mkdtemp(prefix="alta-tiny-"))
    shutil.copytree(source, dest, dirs_exist_ok=True)
    return dest


def describe(spec: TinySpec) -> str:
    ties = "tied" if spec.tie_embeddings else "untied"
    return (f"hidden {spec.hidden}, {spec.layers} layers, {spec.heads}/{spec.kv_heads} heads, {ties}, "
            f"{spec.vocab_rows:,} embedding rows, context {spec.max_positions:,}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.tiny_models", description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help=f"models to build (default: all of {', '.join(MODELS)})")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--root", type=Path, default=CACHE, help="cache directory (default: .cache/tiny-models)")
    parser.add_argument("--list", action="store_true", help="print the names and shapes, build nothing")
    args = parser.parse_args(argv)
    if args.list:
        for name, spec in MODELS.items():
            print(f"{name}\t{describe(spec)}")
        return 0
    unknown = [n for n in args.names if n not in MODELS]
    if unknown:
        print(f"error: unknown tiny model(s) {unknown}; --list shows the names", file=sys.stderr)
        return 2
    try:
        for name in args.names or list(MODELS):
            print(f"{name}\t{tiny_model(name, seed=args.seed, root=args.root)}")
    except qwen_tokenizer.TokenizerBuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
