"""A checkpoint folder's vocabulary-bound files, rewritten for a new id table.

One function, :func:`rewrite`, writes a checkpoint whose token ``new`` has the embedding (and, when
untied, LM-head) row ``rows(old_weight)[new]``: the tokenizer files, ``config.json``,
``generation_config.json`` and the safetensors weights. Weights are streamed tensor by tensor from
each shard, so a 1.5B checkpoint never sits in memory twice.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from training.vocab.bpe import VocabError, slow_files, write_tokenizer_json

RowMap = Callable[["torch.Tensor"], "torch.Tensor"]  # noqa: F821 (torch is imported lazily)
TOKEN_ID_KEYS = ("bos_token_id", "eos_token_id", "pad_token_id", "decoder_start_token_id")
COPIED = ("special_tokens_map.json", "chat_template.jinja")
EMBEDDING_SUFFIXES = ("embed_tokens.weight", "lm_head.weight", "wte.weight")


def read_json(path: Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write_json(data: Any, path: Path) -> None:
    Path(path).write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def remap_ids(config: dict[str, Any], new_of: Mapping[int, int], where: str) -> dict[str, Any]:
    """``config`` with its special-token ids renumbered (an id may be a list, as Qwen's eos is)."""
    out = dict(config)
    for key in TOKEN_ID_KEYS:
        value = out.get(key)
        if value is None:
            continue
        ids = value if isinstance(value, list) else [value]
        lost = [i for i in ids if i not in new_of]
        if lost:
            raise VocabError(f"{where}: {key} {lost} is not in the new vocabulary; keep it (keep_ids)")
        out[key] = [new_of[i] for i in ids] if isinstance(value, list) else new_of[value]
    return out


def rewrite(src: Path, out: Path, tokenizer: dict[str, Any], new_of: Mapping[int, int], rows: RowMap,
            vocab_size: int, extra: Mapping[str, Any]) -> None:
    """Write ``out``: ``src`` with ``tokenizer`` (a tokenizer.json dict), ids renumbered by ``new_of``
    (old id -> new id, for the config's special ids), and every embedding-shaped tensor replaced by
    ``rows(tensor)``, which must return ``vocab_size`` rows. ``extra`` is saved as vocab_transform.json."""
    src, out = Path(src), Path(out)
    if src.resolve() == out.resolve():
        raise VocabError("write the transformed checkpoint to a new folder, not over its source")
    out.mkdir(parents=True, exist_ok=True)
    write_tokenizer_json(tokenizer, out / "tokenizer.json")
    if (src / "tokenizer_config.json").is_file():
        config = read_json(src / "tokenizer_config.json")
        decoder = config.get("added_tokens_decoder", {})
        config["added_tokens_decoder"] = {str(new_of[int(i)]): v for i, v in decoder.items()}
        write_json(config, out / "tokenizer_config.json")
    if (src / "vocab.json").is_file() or (src / "merges.txt").is_file():
        vocab_json, merges_txt = slow_files(tokenizer)
        (out / "vocab.json").write_text(vocab_json, encoding="utf-8")
        (out / "merges.txt").write_text(merges_txt, encoding="utf-8")
    for name in COPIED:
        if (src / name).is_file():
            shutil.copyfile(src / name, out / name)
    if (src / "config.json").is_file():
        config = remap_ids(read_json(src / "config.json"), new_of, "config.json")
        config["vocab_size"] = vocab_size
        write_json(config, out / "config.json")
    if (src / "generation_config.json").is_file():
        write_json(remap_ids(read_json(src / "generation_config.json"), new_of, "generation_config.json"),
                   out / "generation_config.json")
    _rewrite_weights(src, out, rows, vocab_size)
    write_json(dict(extra), out / "vocab_transform.json")


def _rewrite_weights(src: Path, out: Path, rows: RowMap, vocab_size: int) -> None:
    from safetensors import safe_open
    from safetensors.torch import save_file

    shards = sorted(src.glob("*.safetensors"))
    if not shards:
        if any(src.glob("*.bin")) or any(src.glob("*.pt")):
            raise VocabError(f"{src}: weights are not safetensors; re-save with save_pretrained(safe_serialization=True)")
        return  # a tokenizer-only folder
    total = 0
    for shard in shards:
        tensors = {}
        with safe_open(str(shard), framework="pt") as f:
            metadata = f.metadata()
            for name in f.keys():
                tensor = f.get_tensor(name)
                if name.endswith(EMBEDDING_SUFFIXES):
                    tensor = rows(tensor).contiguous()
                    if tensor.shape[0] != vocab_size:
                        raise VocabError(f"{name}: {tensor.shape[0]} rows after the transform, expected {vocab_size}")
                tensors[name] = tensor
                total += tensor.numel() * tensor.element_size()
        save_file(tensors, str(out / shard.name), metadata=metadata)
        del tensors
    index = src / "model.safetensors.index.json"
    if index.is_file():
        data = read_json(index)
        data.setdefault("metadata", {})["total_size"] = total
        write_json(data, out / index.name)
