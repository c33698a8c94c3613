"""Byte-level BPE ``tokenizer.json`` surgery: the tokens a text needs, trimming, appending merges.

Everything here works on the parsed ``tokenizer.json`` (a dict), so the same code serves Qwen2.5's
151,665-token vocabulary and the demo model's 4,096 tokens, and the result is read alike by
``tokenizers`` (Python) and Transformers.js (the browser): only the BPE model's ``vocab`` and
``merges``, ``added_tokens`` and the post-processor's ids change; the normaliser, the pre-tokeniser
(Qwen's regex + byte level) and the decoder stay as they were.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

Merge = tuple[str, str]


class VocabError(ValueError):
    """A tokenizer or checkpoint this package cannot transform, with what to do about it."""


@lru_cache(maxsize=1)
def byte_tokens() -> tuple[str, ...]:
    """The 256 byte-level tokens (GPT-2's byte-to-character table): any text encodes with these alone."""
    printable = [*range(33, 127), *range(161, 173), *range(174, 256)]
    extra, chars = 0, []
    for b in range(256):
        if b in printable:
            chars.append(chr(b))
        else:
            chars.append(chr(256 + extra))
            extra += 1
    return tuple(chars)


def read_tokenizer_json(path: Path) -> dict[str, Any]:
    """The parsed tokenizer.json, refused unless it is a byte-level BPE this package can edit."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    model = data.get("model", {})
    if model.get("type") != "BPE":
        raise VocabError(f"{path}: a {model.get('type')} tokenizer; only byte-level BPE (Qwen2's kind) is supported")
    if "ByteLevel" not in json.dumps(data.get("pre_tokenizer")):
        raise VocabError(f"{path}: no ByteLevel pre-tokenizer, so dropped tokens could not fall back to bytes")
    missing = [t for t in byte_tokens() if t not in model["vocab"]]
    if missing:
        raise VocabError(f"{path}: {len(missing)} of the 256 byte-level tokens are missing from the vocabulary")
    return data


def write_tokenizer_json(data: dict[str, Any], path: Path) -> None:
    Path(path).write_text(json.dumps(data, ensure_ascii=False, indent=None), encoding="utf-8")


def merges_of(data: Mapping[str, Any]) -> list[Merge]:
    """The merge list as pairs, whichever of the two formats (``["a", "b"]`` or ``"a b"``) it uses."""
    return [tuple(m) if isinstance(m, list) else tuple(m.split(" ", 1)) for m in data["model"]["merges"]]


def _merges_like(data: Mapping[str, Any], merges: Iterable[Merge]) -> list:
    pairs = data["model"]["merges"] and isinstance(data["model"]["merges"][0], str)
    return [f"{a} {b}" if pairs else [a, b] for a, b in merges]


def all_ids(data: Mapping[str, Any]) -> dict[str, int]:
    """Every token with its id: the BPE vocabulary and the added tokens."""
    ids = dict(data["model"]["vocab"])
    ids.update({t["content"]: t["id"] for t in data["added_tokens"]})
    return ids


def size(data: Mapping[str, Any]) -> int:
    """Ids the tokenizer can emit: one past the largest."""
    return max(all_ids(data).values()) + 1


def close_over_parts(data: Mapping[str, Any], keep: set[str]) -> set[str]:
    """``keep`` plus, recursively, the two parts of the merge that makes each kept token.

    BPE reaches a token only through the tokens its merges pass through, and every token a word
    passes through while being encoded is such a part of one of its final tokens. So keeping the
    parts of every kept token, and every merge among kept tokens, gives each text made only of kept
    tokens the very same merge sequence, hence the same tokens, as before.
    """
    made_by: dict[str, list[Merge]] = {}
    for a, b in merges_of(data):
        made_by.setdefault(a + b, []).append((a, b))
    closed, todo = set(keep), list(keep)
    while todo:
        for a, b in made_by.get(todo.pop(), ()):
            for part in (a, b):
                if part not in closed:
                    closed.add(part)
                    todo.append(part)
    return closed


def trim(data: dict[str, Any], keep_ids: Iterable[int]) -> tuple[dict[str, Any], list[int]]:
    """A tokenizer.json with only ``keep_ids`` (plus bytes, added tokens and merge parts), renumbered.

    Returns the new tokenizer.json and ``old_ids``: ``old_ids[new_id]`` is the token's former id,
    in the former order (so the added tokens stay after the BPE vocabulary). Merges survive only
    when both parts and the result survive.
    """
    vocab: dict[str, int] = data["model"]["vocab"]
    by_id = {i: t for t, i in all_ids(data).items()}
    keep_ids = set(keep_ids)
    unknown = keep_ids - by_id.keys()
    if unknown:
        raise VocabError(f"ids not in the tokenizer: {sorted(unknown)[:10]}")
    keep = {by_id[i] for i in keep_ids if by_id[i] in vocab}
    keep = close_over_parts(data, keep | set(byte_tokens()))
    kept = sorted([vocab[t] for t in keep] + [t["id"] for t in data["added_tokens"]])
    new_of = {old: new for new, old in enumerate(kept)}
    out = copy.deepcopy({k: v for k, v in data.items() if k not in ("model", "added_tokens")})
    out["model"] = {k: v for k, v in data["model"].items() if k not in ("vocab", "merges")}
    out["model"]["vocab"] = {t: new_of[i] for t, i in vocab.items() if i in new_of}
    new_vocab = out["model"]["vocab"]
    out["model"]["merges"] = _merges_like(data, [(a, b) for a, b in merges_of(data)
                                                 if a in new_vocab and b in new_vocab and a + b in new_vocab])
    out["added_tokens"] = [{**t, "id": new_of[t["id"]]} for t in data["added_tokens"]]
    out["post_processor"] = remap_post_processor(data.get("post_processor"), new_of)
    # key order as tokenizers writes it, for readable diffs
    return {k: out[k] for k in data if k in out}, kept


def remap_post_processor(node: Any, new_of: Mapping[int, int]) -> Any:
    """The post-processor with every special-token id renumbered (TemplateProcessing, Roberta, Bert)."""
    if isinstance(node, list):
        return [remap_post_processor(x, new_of) for x in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "ids" and isinstance(value, list):
            out[key] = [new_of[i] for i in value]
        elif key in ("sep", "cls") and isinstance(value, list) and len(value) == 2 and isinstance(value[1], int):
            out[key] = [value[0], new_of[value[1]]]
        else:
            out[key] = remap_post_processor(value, new_of)
    return out


def append_merges(data: dict[str, Any], merges: Iterable[Merge]
                  ) -> tuple[dict[str, Any], dict[str, int], dict[int, int]]:
    """A tokenizer.json with ``merges`` appended (lowest priority) and their new results in the vocabulary.

    Appended merges apply only after every older merge, so the byte-level pipeline and the encoding
    of text they do not touch stay as they were. New tokens take the ids right after the BPE
    vocabulary's last, and the added tokens that followed it move up by as many: ``tokenizers``
    numbers added tokens from the size of a contiguous BPE vocabulary, so a gap would give Python and
    Transformers.js different ids for ``<|im_start|>``. Returns the new tokenizer.json, ``{token: id}``
    of the tokens it created (a merge whose result already existed creates none) and ``new_of``
    (old id -> new id, for every old id).
    """
    out = copy.deepcopy(data)
    vocab = out["model"]["vocab"]
    first = max(vocab.values()) + 1
    fresh: list[str] = []
    merges = list(merges)
    for a, b in merges:
        if a not in vocab or b not in vocab:
            raise VocabError(f"merge ({a!r}, {b!r}) joins a token the vocabulary lacks")
        if a + b not in vocab:
            vocab[a + b] = -1
            fresh.append(a + b)
    shift = len(fresh)
    new_of = {i: (i + shift if i >= first else i) for i in all_ids(data).values()}
    created = {t: first + k for k, t in enumerate(fresh)}
    for token, i in vocab.items():
        vocab[token] = created[token] if i == -1 else new_of[i]
    out["added_tokens"] = [{**t, "id": new_of[t["id"]]} for t in data["added_tokens"]]
    out["post_processor"] = remap_post_processor(data.get("post_processor"), new_of)
    out["model"]["merges"] = data["model"]["merges"] + _merges_like(data, merges)
    return out, created, new_of


def leaves(data: Mapping[str, Any], tokens: Iterable[str], base: Mapping[str, int]) -> dict[str, list[int]]:
    """For each token, the ids in ``base`` (the vocabulary before extension) it is made of, in order."""
    made_by: dict[str, Merge] = {}
    for a, b in merges_of(data):
        made_by.setdefault(a + b, (a, b))
    memo: dict[str, list[int]] = {}

    def walk(token: str) -> list[int]:
        if token in base:
            return [base[token]]
        if token not in memo:
            if token not in made_by:
                raise VocabError(f"{token!r} is neither in the base vocabulary nor made by a merge")
            a, b = made_by[token]
            memo[token] = walk(a) + walk(b)
        return memo[token]

    return {t: walk(t) for t in tokens}


def slow_files(data: Mapping[str, Any]) -> tuple[str, str]:
    """``vocab.json`` and ``merges.txt`` texts for the slow tokenizer, consistent with ``data``."""
    vocab = dict(sorted(data["model"]["vocab"].items(), key=lambda kv: kv[1]))
    merges = "#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges_of(data))
    return json.dumps(vocab, ensure_ascii=False), merges
