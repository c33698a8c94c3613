"""Training the CRF recogniser on a BRAT corpus (MEDDOCAN train), deterministically.

``python -m clinical.deid train --train third_party/meddocan/train --out models/deid/`` writes
``model.crfsuite`` and ``training.json`` (parameters, corpus fingerprint, time). The same corpus
and parameters give the same model file: documents are read in name order and crfsuite's L-BFGS
has no randomness.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from clinical.deid.corpus.brat import BratDocument, read_corpus
from clinical.deid.crf.bio import encode
from clinical.deid.crf.features import document_features
from clinical.deid.crf.recognizer import import_crfsuite
from clinical.deid.crf.tokenizer import tokenize

__all__ = ["MODEL_FILE", "TrainConfig", "corpus_fingerprint", "train", "train_on"]

logger = logging.getLogger(__name__)

MODEL_FILE = "model.crfsuite"


@dataclass
class TrainConfig:
    """How to train the CRF recogniser."""

    train: Path = field(default=Path("third_party/meddocan/train"),
                        metadata={"help": "BRAT folder with NAME.txt + NAME.ann (MEDDOCAN train split)"})
    out: Path = field(default=Path("models/deid"), metadata={"help": "folder for model.crfsuite and training.json"})
    c1: float = field(default=0.05, metadata={"help": "L1 penalty: higher drops more features (smaller model)"})
    c2: float = field(default=0.01, metadata={"help": "L2 penalty"})
    max_iterations: int = field(default=300, metadata={"help": "L-BFGS iterations"})
    min_freq: int = field(default=1, metadata={"help": "drop features seen fewer times than this"})
    scheme: str = field(default="BIO", metadata={"help": "token labels: BIO, or BILOU (twice the training time)"})


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"


def corpus_fingerprint(documents: list[BratDocument]) -> str:
    """SHA-256 over every document's name, text and spans: which data a model was trained on."""
    digest = hashlib.sha256()
    for document in documents:
        digest.update(document.name.encode())
        digest.update(document.text.encode())
        for span in document.spans:
            digest.update(f"{span.start} {span.end} {span.type};".encode())
    return digest.hexdigest()


def train(config: TrainConfig) -> Path:
    """Train on ``config.train`` and write the model under ``config.out``; returns the model path."""
    return train_on(read_corpus(config.train), config)


def train_on(documents: list[BratDocument], config: TrainConfig) -> Path:
    """Train on ``documents`` (``config.train`` only names them) and write the model under ``config.out``."""
    if not documents or not any(d.spans for d in documents):
        raise ValueError(f"{config.train} has no annotated documents (NAME.txt with NAME.ann)")
    started = time.perf_counter()
    pycrfsuite = import_crfsuite()
    trainer = pycrfsuite.Trainer(verbose=False)
    tokens_total = 0
    for document in documents:
        tokens = tokenize(document.text)
        tokens_total += len(tokens)
        trainer.append(document_features(tokens), encode(tokens, document.spans, config.scheme))
    trainer.set_params({
        "c1": config.c1,
        "c2": config.c2,
        "max_iterations": config.max_iterations,
        "feature.possible_transitions": True,
        "feature.minfreq": config.min_freq,
    })
    config.out.mkdir(parents=True, exist_ok=True)
    model = config.out / MODEL_FILE
    logger.info("training the CRF on %d documents (%d tokens)", len(documents), tokens_total)
    trainer.train(str(model))
    seconds = time.perf_counter() - started
    info = {
        "model": MODEL_FILE,
        "corpus": str(config.train),
        "corpus_sha256": corpus_fingerprint(documents),
        "documents": len(documents),
        "spans": sum(len(d.spans) for d in documents),
        "tokens": tokens_total,
        "params": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()},
        "iterations": trainer.logparser.last_iteration.get("num") if trainer.logparser.last_iteration else None,
        "train_seconds": round(seconds, 1),
        "model_bytes": model.stat().st_size,
        "python_crfsuite": _version("python-crfsuite"),
    }
    (config.out / "training.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    logger.info("trained in %.0f s, model %s (%d bytes)", seconds, model, info["model_bytes"])
    return model
