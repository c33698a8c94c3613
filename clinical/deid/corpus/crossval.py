"""k-fold cross-validation on a training corpus: error analysis without touching dev or test.

``python -m clinical.deid crossval --train third_party/meddocan/train --folds 2`` (models under ``build/``)
trains one CRF per fold on the other folds' documents (document ``i`` is in fold ``i % k``), runs
the whole pipeline (rules, CRF, consistency) with each on its held-out fold, and prints the pooled
strict scores. ``--errors FILE`` also writes every missed and every wrong span with 40 characters
around it, as JSON lines: the corpus's (synthetic) PHI, for the analyst's machine only.

Every change to the de-identification pipeline in this repository was measured this way first;
dev is only scored, in aggregate. The name gazetteer (``data/person_names.tsv``) holds names from
all of train, so names score a little higher here than on unseen text.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from clinical.deid.analyzer import Analyzer
from clinical.deid.corpus.brat import read_corpus
from clinical.deid.corpus.evaluate import EvalReport
from clinical.deid.crf.training import TrainConfig, train_on

__all__ = ["crossvalidate"]

logger = logging.getLogger(__name__)
_CONTEXT = 40


def _train_fold(config: TrainConfig, fold: int, folds: int, out: Path) -> Path:
    documents = [d for i, d in enumerate(read_corpus(config.train)) if i % folds != fold]
    return train_on(documents, dataclasses.replace(config, out=out / f"fold{fold}"))


def crossvalidate(config: TrainConfig, folds: int, out: Path, errors: Path | None = None,
                  workers: int = 2) -> dict[str, Any]:
    """Pooled scores of ``folds``-fold cross-validation on ``config.train`` (models under ``out``)."""
    if folds < 2:
        raise ValueError("cross-validation needs at least 2 folds")
    documents = read_corpus(config.train)
    with ProcessPoolExecutor(max(1, min(workers, folds))) as pool:
        models = list(pool.map(_train_fold, [config] * folds, range(folds), [folds] * folds, [out] * folds))
    report = EvalReport()
    lines = []
    for fold, model in enumerate(models):
        analyzer = Analyzer.with_model(model)
        for document in documents[fold::folds]:
            predicted = analyzer.analyze(document.text)
            report.add(document.text, document.spans, predicted)
            gold = {(s.start, s.end, s.type) for s in document.spans}
            found = {(s.start, s.end, s.type) for s in predicted}
            for kind, keys in (("missed", gold - found), ("wrong", found - gold)):
                for start, end, type_ in sorted(keys):
                    lines.append({"document": document.name, "kind": kind, "type": type_, "start": start,
                                  "end": end, "before": document.text[max(0, start - _CONTEXT):start],
                                  "span": document.text[start:end], "after": document.text[end:end + _CONTEXT]})
    if errors is not None:
        errors.parent.mkdir(parents=True, exist_ok=True)
        errors.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")
        logger.info("wrote %d errors to %s", len(lines), errors)
    return report.to_dict()
