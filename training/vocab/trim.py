"""Vocabulary trimming: keep the tokens clinical text and the chat format use, drop the rest.

    from training.vocab.trim import trim_checkpoint
    trim_checkpoint("runs/qwen0.5b", "runs/qwen0.5b-trimmed")             # the default keep corpus
    trim_checkpoint(src, out, keep_ids={...})                             # or your own ids
    trim_checkpoint(src, out, corpus=["texts", ...])                      # or your own texts

Always kept: the 256 byte-level tokens (so any text still encodes, byte by byte at worst), every
added/special token, and the parts of every kept token's merge (so every text of the keep corpus
encodes to the very same token strings as before). Ids are renumbered in the old order, consistently
in tokenizer.json, tokenizer_config.json, config.json, generation_config.json, the embedding and the
LM head (tied or not); ``vocab_transform.json`` records ``old_ids`` (``old_ids[new] = old``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from training.vocab import bpe
from training.vocab.checkpoint import read_json, rewrite

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrimResult:
    out_dir: Path
    old_size: int  # embedding rows before (config.json's vocab_size, or the tokenizer's size)
    new_size: int  # embedding rows after
    kept_tokens: int


def corpus_ids(tokenizer_json: Path | str, texts: Iterable[str]) -> set[int]:
    """Every id the tokenizer gives ``texts`` (special tokens in the text are matched, as in chat)."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_json))
    ids: set[int] = set()
    batch: list[str] = []
    for text in texts:
        batch.append(text)
        if len(batch) == 256:
            ids.update(i for enc in tok.encode_batch(batch, add_special_tokens=False) for i in enc.ids)
            batch = []
    ids.update(i for enc in tok.encode_batch(batch, add_special_tokens=False) for i in enc.ids)
    return ids


def default_keep_texts() -> list[str]:
    from training.vocab import corpus

    return [t for c in corpus.keep() for t in c.texts]


def trim_checkpoint(src_dir: Path | str, out_dir: Path | str, keep_ids: Iterable[int] | None = None,
                    corpus: Iterable[str] | None = None, *, pad_to_multiple_of: int = 1) -> TrimResult:
    """Write ``out_dir``: ``src_dir`` (a checkpoint, or a tokenizer-only folder) with a trimmed vocabulary.

    ``keep_ids``: ids to keep (old numbering); ``corpus``: texts whose ids to keep; neither: the
    default keep corpus (``training.vocab.corpus.keep``). Both may be given (union).
    ``pad_to_multiple_of`` rounds the embedding rows up (zero rows no token uses).
    """
    import torch

    src, out = Path(src_dir), Path(out_dir)
    data = bpe.read_tokenizer_json(src / "tokenizer.json")
    wanted: set[int] = set(keep_ids or ())
    if corpus is not None or keep_ids is None:
        texts = list(corpus) if corpus is not None else default_keep_texts()
        wanted |= corpus_ids(src / "tokenizer.json", texts)
    trimmed, old_ids = bpe.trim(data, wanted)
    old_size = read_json(src / "config.json")["vocab_size"] if (src / "config.json").is_file() else bpe.size(data)
    if max(old_ids) >= old_size:
        raise bpe.VocabError(f"the tokenizer has id {max(old_ids)} but the model only {old_size} rows")
    new_size = -(-len(old_ids) // pad_to_multiple_of) * pad_to_multiple_of
    index = torch.tensor(old_ids)

    def rows(weight: torch.Tensor) -> torch.Tensor:
        kept = weight.index_select(0, index)
        if new_size == len(old_ids):
            return kept
        return torch.cat([kept, kept.new_zeros(new_size - len(old_ids), weight.shape[1])])

    rewrite(src, out, trimmed, {old: new for new, old in enumerate(old_ids)}, rows, new_size,
            {"transform": "trim", "old_vocab_size": old_size, "new_vocab_size": new_size, "old_ids": old_ids})
    logger.info("trimmed %s: %d -> %d embedding rows (%d tokens kept)", src, old_size, new_size, len(old_ids))
    return TrimResult(out, old_size, new_size, len(old_ids))
