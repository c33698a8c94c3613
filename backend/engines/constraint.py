"""Record-constrained decoding for the ONNX engine: xgrammar token masks over numpy logits.

``clinical.grammar`` turns a record into a grammar; this module compiles it for the bundle's
tokenizer with xgrammar (the engine vLLM uses for ``structured_outputs``) and, token by token,
sets the logits of every token the grammar forbids to a large negative number before the decode
loop picks one. So a constrained draft can hold only the record's identity, codes, drugs, doses and
dates; the closed-world review still runs on it (a guarantee is no reason to skip the check).

xgrammar is optional (``pip install -e .[constrain]``, which ``make run`` does): its wheel imports
torch and transformers, which the plain ``serve`` install leaves out. Without it the engine writes
unconstrained drafts, logs a warning and says so in its health detail. The bitmask is a numpy int32
array (xgrammar fills it through DLPack), so the decode loop itself stays numpy-only.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from clinical.grammar import GrammarOptions, epicrisis_grammar
from clinical.record import HospitalStay

logger = logging.getLogger(__name__)

MASKED = np.float32(-1e30)
"""What a forbidden token's logit becomes: finite, so temperature scaling and the softmax stay finite
(an -inf would make the sampler's finiteness guard fall back to argmax), and exp() of it is 0."""
INSTALL_HINT = ("install it with `pip install -e .[constrain]` (or `make run`, which does), "
                "or set ALTA_ONNX_CONSTRAIN=false to write unconstrained drafts on purpose")


class ConstraintUnavailable(RuntimeError):
    """xgrammar cannot be imported, or cannot read this bundle's tokenizer."""


class GrammarViolation(ValueError):
    """A picked token the grammar does not allow: the mask and the pick disagree (a bug, never a model's fault).
    A ValueError, so the engine turns it into an EngineError and the next engine writes the draft."""


def xgrammar_version() -> str | None:
    """The installed xgrammar's version, or None (without importing it: the import pulls in torch)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("xgrammar")
    except PackageNotFoundError:
        return None


def _vocab_type(tokenizer: Tokenizer, xgr: Any) -> Any:
    """xgrammar's name for how the vocabulary spells bytes, read from the tokenizer's decoder."""
    decoder = json.dumps(json.loads(tokenizer.to_str()).get("decoder") or {})
    if '"ByteLevel"' in decoder:
        return xgr.VocabType.BYTE_LEVEL  # GPT-2 / Qwen2: bytes as printable characters ("Ġ" is a space)
    if '"ByteFallback"' in decoder:
        return xgr.VocabType.BYTE_FALLBACK  # Llama / SentencePiece: "<0x0A>", "▁"
    return xgr.VocabType.RAW


@dataclass
class TokenConstraint:
    """One generation's grammar state: masks the logits of the next token, then accepts the one picked."""

    matcher: Any
    bitmask: np.ndarray
    vocab_size: int
    tokenizer: Tokenizer | None = None  # set: jump forward over text the grammar forces (see forced)
    seconds: float = 0.0  # time spent filling masks and accepting tokens (the cost the benchmark reports)
    steps: int = 0  # masked picks, one per model run
    compile_seconds: float = 0.0  # compiling the grammar (or finding it compiled) and starting the matcher

    def mask(self, logits: np.ndarray) -> np.ndarray:
        """``logits`` (one row) with every token the grammar forbids set to :data:`MASKED` (a copy)."""
        started = time.perf_counter()
        self.matcher.fill_next_token_bitmask(self.bitmask)
        bits = np.unpackbits(self.bitmask.view(np.uint8), bitorder="little")
        out = logits.astype(np.float32, copy=True)
        n = min(self.vocab_size, out.shape[-1])
        forbidden = bits[:n] == 0
        out[:n][forbidden] = MASKED
        out[n:] = MASKED  # rows past the tokenizer's vocabulary (padding) are never text
        self.seconds += time.perf_counter() - started
        self.steps += 1
        return out

    def accept(self, token: int) -> None:
        """Advance the grammar past ``token`` (a masked pick, so it is always allowed)."""
        started = time.perf_counter()
        if not self.matcher.accept_token(token):
            raise GrammarViolation(f"token {token} is not allowed by the record's grammar; the mask was not applied")
        self.seconds += time.perf_counter() - started

    def forced(self, limit: int) -> list[int]:
        """Tokens for the text the grammar now forces (up to ``limit``), already accepted; [] when none.

        Most of a constrained epicrisis is forced (identity lines, headings, the rest of an item once
        it is chosen). Left to pick token by token, a small model spells forced text in many short
        tokens (1.8x the template's count on the demo model), and may run out of context; fed in one
        run as the tokenizer spells it (SGLang's jump-forward decoding), it costs one prefill step.
        """
        if self.tokenizer is None or limit < 1:
            return []
        started = time.perf_counter()
        try:
            text = self.matcher.find_jump_forward_string()
        except UnicodeDecodeError:  # the last token ended inside a character: the forced bytes are not text
            text = ""
        accepted: list[int] = []
        if text and "\ufffd" not in text:
            for token in self.tokenizer.encode(text, add_special_tokens=False).ids[:limit]:
                if not self.matcher.accept_token(token):  # a spelling across the forced text's end
                    break
                accepted.append(token)
        self.seconds += time.perf_counter() - started
        return accepted

    @property
    def finished(self) -> bool:
        """The grammar is complete and its stop token was accepted."""
        return bool(self.matcher.is_terminated())


class GrammarConstraints:
    """xgrammar set up for one tokenizer: compiles records' grammars and hands out per-generation states.

    Compiled grammars are cached by text (the same record compiles once); ``GrammarCompiler`` is
    shared behind a lock, matchers are per generation.
    """

    def __init__(self, tokenizer: Tokenizer, stop_ids: list[int] | frozenset[int],
                 options: GrammarOptions | None = None, cache_size: int = 64, jump_forward: bool = True) -> None:
        try:
            import xgrammar as xgr
        except ImportError as exc:
            raise ConstraintUnavailable(f"xgrammar is not installed ({exc}); {INSTALL_HINT}") from exc
        self._xgr = xgr
        self.options = options or GrammarOptions()
        self.tokenizer = tokenizer
        self.jump_forward = jump_forward
        vocab = tokenizer.get_vocab(with_added_tokens=True)
        self.vocab_size = max(vocab.values()) + 1
        encoded = [""] * self.vocab_size
        for piece, index in vocab.items():
            encoded[index] = piece
        try:
            info = xgr.TokenizerInfo(encoded, vocab_type=_vocab_type(tokenizer, xgr), vocab_size=self.vocab_size,
                                     stop_token_ids=sorted(stop_ids))
        except (RuntimeError, ValueError) as exc:
            raise ConstraintUnavailable(f"xgrammar cannot read this tokenizer: {exc}") from exc
        self._compiler = xgr.GrammarCompiler(info, max_threads=1)
        self._lock = threading.Lock()
        self._cache: dict[str, Any] = {}
        self._cache_size = cache_size
        self.version = xgrammar_version() or "?"

    def compile(self, grammar: str) -> Any:
        with self._lock:
            compiled = self._cache.get(grammar)
            if compiled is None:
                compiled = self._compiler.compile_grammar(grammar)
                if len(self._cache) >= self._cache_size:
                    self._cache.pop(next(iter(self._cache)))
                self._cache[grammar] = compiled
            return compiled

    def for_grammar(self, grammar: str) -> TokenConstraint:
        started = time.perf_counter()
        matcher = self._xgr.GrammarMatcher(self.compile(grammar))
        bitmask = np.full(((self.vocab_size + 31) // 32,), -1, dtype=np.int32)
        return TokenConstraint(matcher, bitmask, self.vocab_size, self.tokenizer if self.jump_forward else None,
                               compile_seconds=time.perf_counter() - started)

    def for_stay(self, stay: HospitalStay) -> TokenConstraint:
        """A fresh constraint to the epicrisis grammar of ``stay``."""
        return self.for_grammar(epicrisis_grammar(stay, self.options))


def load_constraints(tokenizer: Tokenizer, stop_ids: frozenset[int], options: GrammarOptions | None = None,
                     jump_forward: bool = True) -> tuple[GrammarConstraints | None, str]:
    """xgrammar for this tokenizer, or None with the reason (logged loudly: drafts go unconstrained)."""
    try:
        constraints = GrammarConstraints(tokenizer, stop_ids, options, jump_forward=jump_forward)
    except ConstraintUnavailable as exc:
        logger.warning("onnx engine: epicrisis drafts are NOT constrained to the record: %s", exc)
        return None, f"unconstrained ({exc})"
    return constraints, f"epicrisis constrained to the record's grammar (xgrammar {constraints.version})"
