"""Scoring de-identification against a BRAT corpus: strict span+type P/R/F1 and the PHI leak rate.

Strict means a predicted span counts only if its start, end and MEDDOCAN type all equal a gold
span's (MEDDOCAN subtrack 1). The leak rate is what matters for privacy whatever the type: the
share of gold PHI characters (non-space) that no predicted span of any type covers, i.e. that
would be left readable in the de-identified text.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clinical.deid.corpus.brat import BratDocument
from clinical.deid.span import PhiSpan

__all__ = ["EvalReport", "evaluate", "format_table"]

logger = logging.getLogger(__name__)

# Types the issue sets a recall target for (0.99): names and identifiers.
NAME_AND_ID_TYPES = (
    "NOMBRE_SUJETO_ASISTENCIA",
    "NOMBRE_PERSONAL_SANITARIO",
    "ID_SUJETO_ASISTENCIA",
    "ID_ASEGURAMIENTO",
    "ID_TITULACION_PERSONAL_SANITARIO",
    "ID_CONTACTO_ASISTENCIAL",
)


def _prf(tp: int, fp: int, fn: int) -> dict[str, float | int]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "support": tp + fn, "tp": tp, "fp": fp, "fn": fn}


@dataclass
class EvalReport:
    """Counts per type and the characters leaked; :meth:`to_dict` adds the derived scores."""

    tp: Counter[str] = field(default_factory=Counter)
    fp: Counter[str] = field(default_factory=Counter)
    fn: Counter[str] = field(default_factory=Counter)
    phi_chars: int = 0
    leaked_chars: int = 0
    documents: int = 0
    must_mask: Callable[[str, list[PhiSpan]], list[PhiSpan]] | None = None
    """Which gold spans the leak rate counts; all of them by default (MEDDOCAN's guidelines)."""

    def add(self, text: str, gold: Iterable[PhiSpan], predicted: Iterable[PhiSpan]) -> None:
        gold_keys = {(s.start, s.end, s.type) for s in gold}
        pred_keys = {(s.start, s.end, s.type) for s in predicted}
        for _, _, type_ in gold_keys & pred_keys:
            self.tp[type_] += 1
        for _, _, type_ in pred_keys - gold_keys:
            self.fp[type_] += 1
        for _, _, type_ in gold_keys - pred_keys:
            self.fn[type_] += 1
        covered = bytearray(len(text))
        for start, end, _ in pred_keys:
            covered[start:end] = b"\x01" * (end - start)
        phi = bytearray(len(text))
        counted = gold_keys if self.must_mask is None else {
            (s.start, s.end, s.type) for s in self.must_mask(text, sorted(gold, key=lambda g: (g.start, g.end)))}
        for start, end, _ in counted:
            phi[start:end] = b"\x01" * (end - start)
        for index, flag in enumerate(phi):
            if flag and not text[index].isspace():
                self.phi_chars += 1
                self.leaked_chars += not covered[index]
        self.documents += 1

    def overall(self) -> dict[str, float | int]:
        return _prf(sum(self.tp.values()), sum(self.fp.values()), sum(self.fn.values()))

    def to_dict(self) -> dict[str, Any]:
        types = sorted(set(self.tp) | set(self.fn) | set(self.fp), key=lambda t: (-(self.tp[t] + self.fn[t]), t))
        names_ids = _prf(sum(self.tp[t] for t in NAME_AND_ID_TYPES), sum(self.fp[t] for t in NAME_AND_ID_TYPES),
                         sum(self.fn[t] for t in NAME_AND_ID_TYPES))
        return {
            "documents": self.documents,
            "overall": self.overall(),
            "names_and_identifiers": names_ids,
            "leak_rate": round(self.leaked_chars / self.phi_chars, 5) if self.phi_chars else 0.0,
            "phi_chars": self.phi_chars,
            "leaked_chars": self.leaked_chars,
            "per_type": {t: _prf(self.tp[t], self.fp[t], self.fn[t]) for t in types},
        }


def evaluate(documents: Iterable[BratDocument], analyze: Callable[[str], list[PhiSpan]],
             must_mask: Callable[[str, list[PhiSpan]], list[PhiSpan]] | None = None) -> EvalReport:
    """Run ``analyze`` on every document's text and score it against the document's gold spans;
    ``must_mask`` narrows the gold spans the leak rate counts (see :class:`EvalReport`)."""
    report = EvalReport(must_mask=must_mask)
    for document in documents:
        report.add(document.text, document.spans, analyze(document.text))
    logger.info("evaluated %d documents", report.documents)
    return report


def format_table(result: dict[str, Any]) -> str:
    """A Markdown table of :meth:`EvalReport.to_dict`: per type, names+ids, overall, leak rate."""
    lines = ["| type | precision | recall | F1 | support |", "|---|---:|---:|---:|---:|"]
    for type_, row in result["per_type"].items():
        lines.append(f"| {type_} | {row['precision']:.4f} | {row['recall']:.4f} | {row['f1']:.4f} | {row['support']} |")
    for label, key in (("names and identifiers", "names_and_identifiers"), ("**overall**", "overall")):
        row = result[key]
        lines.append(f"| {label} | {row['precision']:.4f} | {row['recall']:.4f} | {row['f1']:.4f} | {row['support']} |")
    lines.append("")
    lines.append(f"PHI characters left visible (leak rate): {result['leak_rate']:.4%} "
                 f"({result['leaked_chars']} of {result['phi_chars']}), {result['documents']} documents")
    return "\n".join(lines)


def write_json(result: dict[str, Any], path: str | Path, **extra: Any) -> None:
    """``result`` (and ``extra`` keys such as the model and corpus) as indented JSON."""
    Path(path).write_text(json.dumps({**extra, **result}, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
