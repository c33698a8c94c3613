"""Tokens per held-out text and bundle savings, on the real Qwen2.5 tokenizer: full, trimmed, +medical.

:func:`build_qwen` runs the two transforms on the tokenizer alone (no weights are needed to count
tokens); :func:`token_table` and :func:`size_table` print what they give.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from training.vocab import corpus, medical
from training.vocab.trim import trim_checkpoint

# Qwen2.5's embedding shapes (tied embeddings in both): rows x hidden.
SHAPES = {"Qwen2.5-0.5B": (151_936, 896), "Qwen2.5-1.5B": (151_936, 1536)}
# bytes per weight (hidden -> bytes): int8 with one fp32 scale per row, q4 as MatMulNBits stores it
# (4 bits and one fp16 scale per block of 32)
BYTES = {"fp32": lambda h: 4.0, "fp16": lambda h: 2.0, "int8": lambda h: 1.0 + 4 / h, "q4": lambda h: 0.5 + 2 / 32}


@dataclass(frozen=True)
class QwenVocab:
    full: Path
    trimmed: Path
    medical: Path
    kept: int
    new_tokens: int
    size: int


def build_qwen(full: Path, out: Path, max_merges: int = 16_000, min_saving: int = 2) -> QwenVocab:
    """Trim Qwen2.5's tokenizer on the keep corpus, then add the medical merges learnt on the selection."""
    trimmed = trim_checkpoint(full, out / "trimmed")
    words = medical.word_counts(trimmed.out_dir / "tokenizer.json", corpus.selection())
    merges = medical.learn_merges(words, max_merges, min_saving)
    extended = medical.extend_checkpoint(trimmed.out_dir, out / "medical", merges)
    medical.save_merges(merges, out / "medical" / "medical_merges.txt")
    return QwenVocab(Path(full), trimmed.out_dir, extended.out_dir, trimmed.new_size, len(extended.new_tokens),
                     extended.new_size)


def count_tokens(tokenizer_dir: Path, texts: tuple[str, ...]) -> int:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(Path(tokenizer_dir) / "tokenizer.json"))
    return sum(len(e.ids) for e in tok.encode_batch(list(texts), add_special_tokens=False))


def keep_corpus_check(full: Path, trimmed: Path) -> tuple[int, int]:
    """(texts in the default keep corpus, how many of them the trimmed tokenizer splits differently)."""
    from tokenizers import Tokenizer

    from training.vocab.trim import default_keep_texts

    before, after = (Tokenizer.from_file(str(Path(d) / "tokenizer.json")) for d in (full, trimmed))
    texts = default_keep_texts()
    differ = sum(a.tokens != b.tokens for a, b in zip(before.encode_batch(texts, add_special_tokens=False),
                                                      after.encode_batch(texts, add_special_tokens=False), strict=True))
    return len(texts), differ


def token_table(vocab: QwenVocab, dev: dict[str, tuple[str, ...]] | None = None) -> tuple[str, dict]:
    """Markdown table of tokens per held-out text, and the figures as a dict."""
    dev = dev if dev is not None else corpus.dev()
    lines = ["| held-out text | texts | Qwen2.5 | trimmed | trimmed + medical | change |", "|---|---:|---:|---:|---:|---:|"]
    figures = {}
    for name, texts in dev.items():
        counts = [count_tokens(d, texts) / len(texts) for d in (vocab.full, vocab.trimmed, vocab.medical)]
        change = counts[2] / counts[0] - 1
        figures[name] = {"texts": len(texts), "qwen": counts[0], "trimmed": counts[1], "medical": counts[2],
                         "change": change}
        lines.append(f"| {name} | {len(texts)} | {counts[0]:.1f} | {counts[1]:.1f} | {counts[2]:.1f} | {change:+.1%} |")
    return "\n".join(lines) + "\n", figures


def size_table(rows_after: dict[str, int]) -> str:
    """Embedding rows x hidden of the real shapes, before and after, in parameters and MB per dtype."""
    lines = ["| shape | vocabulary | rows | embedding params | " + " | ".join(f"{d} MB" for d in BYTES) + " |",
             "|---|---|---:|---:|" + "---:|" * len(BYTES)]
    for shape, (rows, hidden) in SHAPES.items():
        for label, n in {"Qwen2.5": rows, **rows_after}.items():
            mb = " | ".join(f"{n * hidden * b(hidden) / 1e6:.0f}" for b in BYTES.values())
            lines.append(f"| {shape} | {label} | {n:,} | {n * hidden / 1e6:.1f} M | {mb} |")
    return "\n".join(lines) + "\n"


def warmup_table(result: dict) -> str:
    """The demo model before and after the medical vocabulary and its warm-up."""
    p, q, n = result["perplexity_per_token"], result["perplexity_per_original_token"], result["nll_per_epicrisis"]
    t = result["answer_tokens_per_epicrisis"]
    return "\n".join([
        "| demo model | answer tokens / epicrisis | NLL / epicrisis (nats) | perplexity per token | per original token |",
        "|---|---:|---:|---:|---:|",
        f"| before (vocab {result['vocab_size'].split(' -> ')[0]}) | {t['before']:.1f} | {n['before']:.1f} | "
        f"{p['before']:.3f} | {q['before']:.3f} |",
        f"| + {result['new_tokens']} tokens, mean init | {t['after']:.1f} | {n['mean_init']:.1f} | "
        f"{p['mean_init']:.3f} | {q['mean_init']:.3f} |",
        f"| + warm-up ({result['warmup']['steps']} steps, {result['warmup']['seconds']:.0f} s) | {t['after']:.1f} | "
        f"{n['warmed']:.1f} | {p['warmed']:.3f} | {q['warmed']:.3f} |",
    ]) + "\n"


def write(out: Path, **figures) -> Path:
    path = Path(out) / "vocab_report.json"
    path.write_text(json.dumps(figures, ensure_ascii=False, indent=2), encoding="utf-8")
    return path
