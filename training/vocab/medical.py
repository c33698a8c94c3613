"""A medical vocabulary: BPE merges appended for frequent clinical words, new rows from their parts.

The tokens are chosen greedily by the tokens they save: the selection corpus is encoded with the
current tokenizer, word by word as its pre-tokeniser splits it, and BPE training simply continues
from there: the adjacent pair of tokens that occurs most often (weighted counts) is merged, which
saves exactly that many tokens on the corpus and costs one row, and so on. Frequent clinical words,
drug names and abbreviations thus end as whole tokens, and frequent pieces (``-itis``,
``-ectomía``) on the way. The merges are appended after the existing ones, so they apply only to
what the old merges left, and the byte-level pipeline (normaliser, Qwen's regex, byte fallback) is
untouched: Transformers.js needs nothing new to read it.

Each new token's embedding row (and LM-head row when untied) starts as the mean of the rows of the
old tokens it replaces (TokAlign-style initialisation from sub-tokens); :mod:`training.vocab.warmup`
then trains the new rows briefly where the weights are real.
"""

from __future__ import annotations

import heapq
import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from training.vocab import bpe
from training.vocab.checkpoint import read_json, rewrite
from training.vocab.corpus import Corpus

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LearnedMerge:
    left: str
    right: str
    saving: int  # weighted tokens it saved on the selection corpus when it was chosen


def word_counts(tokenizer_json: Path | str, corpora: Iterable[Corpus]) -> Counter[tuple[str, ...]]:
    """Weighted counts of the corpus's pre-tokenised words, each as the tokens the tokenizer gives it."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_json))
    pieces: Counter[str] = Counter()
    for corpus in corpora:
        for text in corpus.texts:
            normal = tok.normalizer.normalize_str(text) if tok.normalizer else text
            for piece, _ in tok.pre_tokenizer.pre_tokenize_str(normal):
                pieces[piece] += corpus.weight
    out: Counter[tuple[str, ...]] = Counter()
    for piece, count in pieces.items():
        out[tuple(t.value for t in tok.model.tokenize(piece))] += count
    return out


def learn_merges(words: Counter[tuple[str, ...]], max_merges: int, min_saving: int = 2) -> list[LearnedMerge]:
    """Continue BPE training on ``words``: up to ``max_merges`` merges, each the pair that saves most.

    Stops early when the best pair saves fewer than ``min_saving`` tokens. Ties go to the smaller pair
    (string order), so the result is deterministic.
    """
    seqs = [list(w) for w in words]
    counts = list(words.values())
    pairs: Counter[tuple[str, str]] = Counter()
    where: defaultdict[tuple[str, str], set[int]] = defaultdict(set)
    for i, seq in enumerate(seqs):
        for pair in zip(seq, seq[1:], strict=False):
            pairs[pair] += counts[i]
            where[pair].add(i)
    heap = [(-c, p) for p, c in pairs.items()]
    heapq.heapify(heap)
    merges: list[LearnedMerge] = []
    while heap and len(merges) < max_merges:
        neg, pair = heapq.heappop(heap)
        if pairs.get(pair, 0) != -neg:
            continue  # stale entry: a fresher one was pushed when the count changed
        if -neg < min_saving:
            break
        merges.append(LearnedMerge(pair[0], pair[1], -neg))
        joined, touched = pair[0] + pair[1], set()
        for i in where.pop(pair, ()):
            seq, n = seqs[i], counts[i]
            for old in zip(seq, seq[1:], strict=False):
                pairs[old] -= n
                touched.add(old)
            new, j = [], 0
            while j < len(seq):
                if j + 1 < len(seq) and seq[j] == pair[0] and seq[j + 1] == pair[1]:
                    new.append(joined)
                    j += 2
                else:
                    new.append(seq[j])
                    j += 1
            seqs[i] = new
            for fresh in zip(new, new[1:], strict=False):
                pairs[fresh] += n
                where[fresh].add(i)
                touched.add(fresh)
        pairs.pop(pair, None)
        for p in touched:
            if pairs.get(p, 0) > 0:
                heapq.heappush(heap, (-pairs[p], p))
    return merges


def save_merges(merges: Sequence[LearnedMerge], path: Path) -> None:
    """One merge a line, ``left right saving`` (byte-level tokens never contain a space)."""
    Path(path).write_text("".join(f"{m.left} {m.right} {m.saving}\n" for m in merges), encoding="utf-8")


def load_merges(path: Path) -> list[LearnedMerge]:
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        left, right, saving = line.split(" ")
        out.append(LearnedMerge(left, right, int(saving)))
    return out


@dataclass(frozen=True)
class ExtendResult:
    out_dir: Path
    old_size: int
    new_size: int
    new_tokens: dict[str, int]  # token -> id
    parts: dict[str, list[int]]  # token -> the old ids its row is the mean of


def extend_checkpoint(src_dir: Path | str, out_dir: Path | str, merges: Sequence[LearnedMerge | tuple[str, str]],
                      *, pad_to_multiple_of: int = 1) -> ExtendResult:
    """Write ``out_dir``: ``src_dir`` with ``merges`` appended, and the model resized to the new tokens.

    New tokens take the ids after the BPE vocabulary; added tokens after it move up by as many
    (``vocab_transform.json`` records ``moved_ids``), their rows with them. Each new row (embedding, and
    the LM head when untied) is the mean of the rows of the old tokens it is made of, computed in
    float32.
    """
    import torch

    src, out = Path(src_dir), Path(out_dir)
    data = bpe.read_tokenizer_json(src / "tokenizer.json")
    pairs = [(m.left, m.right) if isinstance(m, LearnedMerge) else tuple(m) for m in merges]
    extended, created, new_of = bpe.append_merges(data, pairs)
    parts = bpe.leaves(extended, created, bpe.all_ids(data))
    old_size = read_json(src / "config.json")["vocab_size"] if (src / "config.json").is_file() else bpe.size(data)
    if bpe.size(data) > old_size:
        raise bpe.VocabError(f"the tokenizer has {bpe.size(data)} ids but the model only {old_size} rows")
    needed = max(old_size, bpe.size(extended))
    new_size = -(-needed // pad_to_multiple_of) * pad_to_multiple_of
    old_ids = torch.tensor(sorted(new_of))
    new_ids = torch.tensor([new_of[i] for i in sorted(new_of)])

    def rows(weight: torch.Tensor) -> torch.Tensor:
        grown = weight.new_zeros(new_size, weight.shape[1])
        grown[new_ids] = weight[old_ids]
        for token, new_id in created.items():
            grown[new_id] = weight[parts[token]].float().mean(0).to(weight.dtype)
        return grown

    rewrite(src, out, extended, new_of, rows, new_size,
            {"transform": "medical", "old_vocab_size": old_size, "new_vocab_size": new_size,
             "merges": [list(p) for p in pairs], "new_tokens": created,
             "moved_ids": {str(o): n for o, n in new_of.items() if o != n}})
    logger.info("extended %s: %d new tokens, %d -> %d embedding rows", src, len(created), old_size, new_size)
    return ExtendResult(out, old_size, new_size, created, parts)
