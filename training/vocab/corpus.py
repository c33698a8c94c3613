"""The texts that choose tokens, and the held-out texts that measure them, kept apart.

Selection (what trimming keeps and what the medical vocabulary learns from): MEDDOCAN train (CC BY
4.0, third_party/meddocan), four of every five TICO-19 dev pairs (CC0, third_party/tico19-dev), the
Spanish CIE-10 descriptions, the drug lexicon, the glossary, and synthetic stays drawn from the seed
``vocab-select``. The trimming corpus adds the English sides and the chat format as the contract
renders it.

Held out (reported, never looked at while choosing): MEDDOCAN dev, the fifth TICO-19 dev pair, and
synthetic Chilean and Mexican epicrises from the seed ``vocab-dev``. The synthetic ones share the
generator's catalog and phrase templates with the selection seed, so their figure is the in-domain
one; MEDDOCAN dev (real case reports, other authors) is the out-of-domain one.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from clinical.contract import epicrisis_messages, render_chatml, translation_messages

REPO = Path(__file__).resolve().parents[2]  # the corpora are the checkout's vendored files

SELECT_SEED, DEV_SEED = "vocab-select", "vocab-dev"
END = "<|im_end|>"
QWEN_DEFAULT_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."


@dataclass(frozen=True)
class Corpus:
    """Named texts; ``weight`` multiplies their counts when the medical vocabulary is chosen."""

    name: str
    texts: tuple[str, ...]
    weight: int = 1


def meddocan(split: str) -> tuple[str, ...]:
    """MEDDOCAN case reports of ``train`` or ``dev`` (the test split is not in the repository)."""
    if split not in ("train", "dev"):
        raise ValueError("only MEDDOCAN train and dev are used here")
    folder = REPO / "third_party" / "meddocan" / split
    return tuple(p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.txt")))


@lru_cache(maxsize=1)
def _tico_rows() -> tuple[tuple[str, str], ...]:
    with (REPO / "third_party" / "tico19-dev" / "dev.es-LA.tsv").open(encoding="utf-8", newline="") as f:
        return tuple((r["es"], r["en"]) for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def tico(part: str, side: str = "es") -> tuple[str, ...]:
    """TICO-19 dev sentences: ``select`` (rows 1-4 of every 5) or ``dev`` (row 5 of every 5)."""
    column = 0 if side == "es" else 1
    held = part == "dev"
    return tuple(row[column] for i, row in enumerate(_tico_rows()) if (i % 5 == 4) == held)


def _tsv_column(path: Path, column: str) -> tuple[str, ...]:
    with path.open(encoding="utf-8", newline="") as f:
        lines = [line for line in f if not line.startswith("#")]
    return tuple(v for r in csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE) if (v := r.get(column)))


def terminology(side: str = "es") -> tuple[str, ...]:
    """CIE-10 descriptions (Spanish, or WHO's English where it has the code)."""
    return _tsv_column(REPO / "clinical" / "terminology" / "data" / "cie10.tsv", side)


def drugs() -> tuple[str, ...]:
    """Drug names of the lexicon, canonical and variants."""
    path = REPO / "clinical" / "lexicon" / "drugs.tsv"
    names = list(_tsv_column(path, "canonical"))
    names += [v for cell in _tsv_column(path, "variants") for v in cell.split("|") if v]
    return tuple(names)


def glossary(side: str = "es") -> tuple[str, ...]:
    return _tsv_column(REPO / "clinical" / "glossary" / "glossary.tsv", side)


@lru_cache(maxsize=8)
def synthetic(seed: str, n: int, country: str | None = None, profile: str = "full"):
    """``n`` synthetic stays with their epicrisis (``EpicrisisExample``), from ``seed``."""
    from training.data import synthetic_epicrisis_split

    return tuple(synthetic_epicrisis_split(n, 0, 0, seed, profile, country=country)["train"])


def epicrises(seed: str, n: int, country: str | None = None, profile: str = "full") -> tuple[str, ...]:
    return tuple(e.text for e in synthetic(seed, n, country, profile))


def chat_texts(seed: str = SELECT_SEED, n: int = 200) -> tuple[str, ...]:
    """Whole conversations as the engines send them: epicrisis and translation prompts with answers,
    and Qwen's default system turn."""
    texts = [render_chatml(epicrisis_messages(e.stay)) + e.text + END + "\n" for e in synthetic(seed, n)]
    texts += [render_chatml(translation_messages(es)) + en + END + "\n"
              for es, en in zip(tico("select", "es")[:n], tico("select", "en")[:n], strict=True)]
    texts.append(f"<|im_start|>system\n{QWEN_DEFAULT_SYSTEM}{END}\n<|im_start|>user\nHola{END}\n"
                 "<|im_start|>assistant\n")
    return tuple(texts)


def selection(n_synthetic: int = 1500) -> list[Corpus]:
    """Spanish clinical text the medical vocabulary is chosen on (counts weighted)."""
    return [
        Corpus("synthetic epicrisis (CL+MX, seed vocab-select)", epicrises(SELECT_SEED, n_synthetic)),
        Corpus("MEDDOCAN train", meddocan("train")),
        Corpus("TICO-19 dev es (4 of 5 rows)", tico("select", "es")),
        Corpus("CIE-10 es", terminology("es")),
        Corpus("drug lexicon", drugs(), weight=20),
        Corpus("glossary es", glossary("es"), weight=5),
    ]


def keep(n_synthetic: int = 1500) -> list[Corpus]:
    """Everything trimming must keep encoding as before: the selection, English, and the chat format."""
    return [*selection(n_synthetic),
            Corpus("TICO-19 dev en (4 of 5 rows)", tico("select", "en")),
            Corpus("CIE-10 en", terminology("en")),
            Corpus("glossary en", glossary("en")),
            Corpus("chat format (contract prompts, seed vocab-select)", chat_texts())]


def dev(n_synthetic: int = 200) -> dict[str, tuple[str, ...]]:
    """Held-out texts, by name; none of them is used to choose tokens."""
    return {
        "synthetic epicrisis CL": epicrises(DEV_SEED, n_synthetic, "CL"),
        "synthetic epicrisis MX": epicrises(DEV_SEED, n_synthetic, "MX"),
        "MEDDOCAN dev": meddocan("dev"),
        "TICO-19 dev es (5th rows)": tico("dev", "es"),
        "epicrisis prompt (chat, record JSON)": tuple(render_chatml(epicrisis_messages(e.stay))
                                                      for e in synthetic(DEV_SEED, n_synthetic // 2)),
    }
