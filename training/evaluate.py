"""Evaluation: perplexity, format, the clinical output checks, translation scores, side by side.

A "system" is anything that turns an example's prompt into text: a checkpoint (greedy decoding),
the template writer, or a reference. Every system is scored on the same examples, so a fine-tuned
model is always read next to its baseline.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from clinical.checks import check_draft
from clinical.contract import render_chatml
from clinical.extract import find_dates, find_doses
from clinical.lexicon import load_lexicon
from training.datasets import PLACEHOLDER, ChatExample
from training.encode import IGNORE, encode

logger = logging.getLogger(__name__)
System = Callable[[ChatExample], str]


@dataclass
class EpicrisisScores:
    examples: int = 0
    items: int = 0  # diagnoses + procedures + discharge medications in the records
    items_covered: int = 0
    mentions: int = 0  # drugs, doses and dates written in the drafts
    mentions_invented: int = 0  # of those, not in the record
    format_ok: int = 0
    seconds: float = 0.0
    perplexity: float | None = None
    per_kind_missing: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "examples": self.examples,
            "coverage": self.items_covered / self.items if self.items else None,
            "invented_rate": self.mentions_invented / self.mentions if self.mentions else 0.0,
            "format_compliance": self.format_ok / self.examples if self.examples else None,
            "perplexity": self.perplexity,
            "seconds_per_example": self.seconds / self.examples if self.examples else None,
            "missing_by_kind": dict(self.per_kind_missing),
            "items": self.items, "items_covered": self.items_covered,
            "mentions": self.mentions, "mentions_invented": self.mentions_invented,
        }


def _mentions(text: str) -> int:
    return len(load_lexicon().find(text)) + len(find_doses(text)) + len(find_dates(text))


def score_epicrisis(system: System, examples: list[ChatExample], name: str = "") -> EpicrisisScores:
    """Coverage of the record's items, invented drugs/doses/dates, and section format."""
    from training.data.narratives import check_format

    scores = EpicrisisScores()
    for ex in tqdm(examples, desc=f"eval {name}".strip(), leave=False):
        stay = ex.meta["stay"]
        started = time.perf_counter()
        draft = system(ex)
        scores.seconds += time.perf_counter() - started
        report = check_draft(stay, draft)
        items = len(stay.diagnoses) + len(stay.procedures) + len(stay.discharge_medications)
        missing = report.missing()
        scores.examples += 1
        scores.items += items
        scores.items_covered += items - len(missing)
        scores.per_kind_missing.update(f.kind for f in missing)
        scores.mentions += _mentions(draft)
        scores.mentions_invented += len(report.unknown())
        scores.format_ok += not check_format(draft)
    return scores


def score_translation(system: System, examples: list[ChatExample]) -> dict[str, Any]:
    """chrF and BLEU (sacrebleu) against the references, and placeholder preservation."""
    import sacrebleu

    hypotheses, references, preserved = [], [], 0
    for ex in tqdm(examples, desc="eval translation", leave=False):
        out = system(ex)
        hypotheses.append(out)
        references.append(ex.answer)
        preserved += Counter(PLACEHOLDER.findall(out)) == Counter(PLACEHOLDER.findall(ex.meta["source"]))
    return {
        "examples": len(examples),
        "chrf": sacrebleu.corpus_chrf(hypotheses, [references]).score,
        "bleu": sacrebleu.corpus_bleu(hypotheses, [references]).score,
        "placeholder_preservation": preserved / len(examples) if examples else None,
    }


@torch.no_grad()
def perplexity(model, tokenizer, examples: list[ChatExample]) -> float:  # noqa: ANN001
    """exp(mean negative log-likelihood per answer token), prompt tokens excluded."""
    model.eval()
    total_nll, total_tokens = 0.0, 0
    for ex in examples:
        enc = encode(tokenizer, ex)
        input_ids = torch.tensor([enc["input_ids"]])
        labels = torch.tensor([enc["labels"]])
        logits = model(input_ids=input_ids).logits[0, :-1].float()
        target = labels[0, 1:]
        mask = target != IGNORE
        nll = torch.nn.functional.cross_entropy(logits[mask], target[mask], reduction="sum")
        total_nll += nll.item()
        total_tokens += int(mask.sum())
    return math.exp(total_nll / max(total_tokens, 1))


def checkpoint_system(model, tokenizer, max_new_tokens: int = 1024) -> System:  # noqa: ANN001
    """Greedy decoding with a transformers checkpoint, prompt built by the contract."""
    eos = tokenizer.convert_tokens_to_ids("<|im_end|>")

    @torch.no_grad()
    def generate(ex: ChatExample) -> str:
        ids = tokenizer(render_chatml(ex.messages), add_special_tokens=False, return_tensors="pt")
        out = model.generate(**ids, max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=eos,
                             pad_token_id=tokenizer.pad_token_id)
        return tokenizer.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)

    return generate


def template_system(ex: ChatExample) -> str:
    from clinical.writer import render_epicrisis

    return render_epicrisis(ex.meta["stay"])


def reference_system(ex: ChatExample) -> str:
    return ex.answer


def comparison_table(results: dict[str, dict[str, Any]]) -> str:
    """A markdown table of the systems' scores, one row per system."""
    keys = [k for k in ("coverage", "invented_rate", "format_compliance", "perplexity", "chrf", "bleu",
                        "placeholder_preservation", "seconds_per_example") if any(k in r for r in results.values())]
    lines = ["| system | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for name, r in results.items():
        cells = []
        for k in keys:
            v = r.get(k)
            cells.append("-" if v is None else f"{v:.2%}" if k in ("coverage", "invented_rate", "format_compliance",
                                                                     "placeholder_preservation") else f"{v:.3f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_comparison(results: dict[str, dict[str, Any]], out_dir: Path, stem: str = "eval") -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / f"{stem}.json", out_dir / f"{stem}.md"
    json_path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    md_path.write_text(comparison_table(results), encoding="utf-8")
    return json_path, md_path
