"""The statistical PHI recogniser: a linear-chain CRF (python-crfsuite) over token features.

It finds what has no fixed format (names, streets, towns, hospitals, professions, ages, most
dates) and was trained on MEDDOCAN's train split (``python -m clinical.deid train``). It needs no
torch and no GPU: tagging a discharge summary takes a few milliseconds on one CPU core.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from clinical.deid.crf.bio import decode
from clinical.deid.crf.boundaries import fix_boundaries
from clinical.deid.crf.features import document_features
from clinical.deid.crf.tokenizer import tokenize
from clinical.deid.span import PhiSpan

__all__ = ["CrfRecognizer", "DEFAULT_MODEL_PATH", "import_crfsuite"]

logger = logging.getLogger(__name__)

# models/deid/ at the repository root, next to the other artefacts Alta ships.
DEFAULT_MODEL_PATH = Path(__file__).resolve().parents[3] / "models" / "deid" / "model.crfsuite"


def import_crfsuite():
    """python-crfsuite, imported when a model is loaded so that the rules work without it."""
    try:
        import pycrfsuite
    except ImportError:
        raise ImportError(
            "the CRF de-identification model needs python-crfsuite: pip install python-crfsuite==0.9.12"
        ) from None
    return pycrfsuite


class CrfRecognizer:
    """Labels tokens BILOU with MEDDOCAN types and turns the labels into spans."""

    name = "crf"

    def __init__(self, model_path: str | Path = DEFAULT_MODEL_PATH):
        path = Path(model_path)
        if not path.is_file():
            raise FileNotFoundError(
                f"de-identification model {path} not found; train it with "
                "`python -m clinical.deid train --train third_party/meddocan/train --out models/deid/`"
            )
        self.model_path = path
        self._tagger = import_crfsuite().Tagger()
        # A crfsuite tagger keeps per-call state: the API serves requests from a thread pool.
        self._lock = threading.Lock()
        self._tagger.open(str(path))
        self.labels = tuple(self._tagger.labels())
        logger.info("loaded CRF de-identification model %s (%d labels)", path.name, len(self.labels))

    def analyze(self, text: str) -> list[PhiSpan]:
        """PHI spans of ``text`` according to the model."""
        tokens = tokenize(text)
        if not tokens:
            return []
        features = document_features(tokens)
        with self._lock:
            labels = self._tagger.tag(features)
        return fix_boundaries(text, decode(tokens, labels, source=self.name))
