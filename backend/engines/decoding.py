"""The KV-cache decode loop on ONNX Runtime (numpy only): prefill, step, sample, and detokenise as it goes.

One :class:`KVDecoder` serves concurrent requests: all per-request state (the cache, the random
generator) lives in the :meth:`KVDecoder.tokens` call, and ONNX Runtime's ``run`` is thread-safe.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

PAST_PREFIX = "past_key_values."
GREEDY_BELOW = 1e-5
"""Temperatures under this decode greedily, as vLLM does (its _SAMPLING_EPS): dividing logits by
1e-308 overflows to inf and the softmax to NaN, and below 1e-5 sampling is argmax in all but name."""
PRESENT_PREFIX = "present."


class PromptTooLong(ValueError):
    """The prompt leaves no room for a single new token in the model's context."""

    def __init__(self, prompt_tokens: int, context: int) -> None:
        super().__init__(f"the prompt has {prompt_tokens} tokens, the model's context is {context}")
        self.prompt_tokens = prompt_tokens
        self.context = context


@dataclass(frozen=True)
class SamplingParams:
    """How to pick tokens: greedy when ``temperature`` is 0 (or under :data:`GREEDY_BELOW`), else
    temperature + nucleus (top-p) sampling."""

    max_new_tokens: int = 1024
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError("max_new_tokens must be at least 1")
        if self.temperature < 0:
            raise ValueError("temperature must be >= 0 (0 = greedy)")
        if not 0 < self.top_p <= 1:
            raise ValueError("top_p must be in (0, 1]")


def pick_token(logits: np.ndarray, params: SamplingParams, rng: np.random.Generator) -> int:
    """Greedy argmax, or a sample from the temperature-scaled distribution cut to the top-p nucleus."""
    if params.temperature < GREEDY_BELOW:
        return int(np.argmax(logits))
    scaled = logits.astype(np.float64) / params.temperature
    if not np.isfinite(scaled).all():  # inf logits (a broken graph): no distribution to sample from
        return int(np.argmax(logits))
    probs = np.exp(scaled - scaled.max())
    probs /= probs.sum()
    if params.top_p < 1:
        order = np.argsort(-probs, kind="stable")
        cumulative = np.cumsum(probs[order])
        keep = order[: int(np.searchsorted(cumulative, params.top_p)) + 1]  # smallest set reaching top_p
        nucleus = probs[keep] / probs[keep].sum()
        return int(keep[rng.choice(len(keep), p=nucleus)])
    return int(rng.choice(len(probs), p=probs))


class LogitsConstraint(Protocol):
    """Restricts which tokens may come next (``backend.engines.constraint.TokenConstraint``)."""

    def mask(self, logits: np.ndarray) -> np.ndarray: ...
    def accept(self, token: int) -> None: ...
    def forced(self, limit: int) -> list[int]: ...
    @property
    def finished(self) -> bool: ...


class KVDecoder:
    """Runs a ``text-generation-with-past`` graph token by token, feeding back ``present.*`` as the cache."""

    def __init__(self, session: ort.InferenceSession, max_positions: int, prefill_chunk: int = 0) -> None:
        """``prefill_chunk``: prompt tokens per prefill run; 0 runs the whole prompt at once, as the exporter's
        validation and Transformers.js do. Chunks bound the memory of the prefill's logits (every prompt
        position, times the vocabulary), but q8's dynamic activation scales then differ, and so may its tokens.
        """
        self.session = session
        self.max_positions = max_positions
        self.prefill_chunk = prefill_chunk or max_positions
        inputs = {i.name: i for i in session.get_inputs()}
        missing = [n for n in ("input_ids", "attention_mask") if n not in inputs]
        self.past = [i for name, i in inputs.items() if name.startswith(PAST_PREFIX)]
        if missing or not self.past:
            raise ValueError(f"the graph lacks {missing or ['past_key_values.*']}: it was not exported with past key "
                             "values (task text-generation-with-past); re-export it with `python -m export bundle`")
        self.has_position_ids = "position_ids" in inputs
        self.output_names = [o.name for o in session.get_outputs()]
        self.logits_index = self.output_names.index("logits")

    def _empty_cache(self) -> dict[str, np.ndarray]:
        cache = {}
        for i in self.past:
            _batch, heads, _length, dim = i.shape
            cache[i.name] = np.zeros((1, heads, 0, dim), np.float16 if i.type == "tensor(float16)" else np.float32)
        return cache

    def _run(self, ids: list[int], cache: dict[str, np.ndarray], done: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        feed = {"input_ids": np.asarray([ids], np.int64), "attention_mask": np.ones((1, done + len(ids)), np.int64),
                **cache}
        if self.has_position_ids:
            feed["position_ids"] = np.arange(done, done + len(ids), dtype=np.int64)[None]
        outputs = self.session.run(None, feed)
        new_cache = {name.replace(PRESENT_PREFIX, PAST_PREFIX, 1): value
                     for name, value in zip(self.output_names, outputs, strict=True) if name.startswith(PRESENT_PREFIX)}
        return outputs[self.logits_index][0, -1], new_cache

    def tokens(self, prompt_ids: list[int], params: SamplingParams, stop_ids: frozenset[int] = frozenset(),
               cancel: threading.Event | None = None, constraint: LogitsConstraint | None = None) -> Iterator[int]:
        """New token ids, one at a time; stops at a stop id (not yielded), the token budget, or ``cancel``.

        ``constraint`` (a record's grammar, ``backend.engines.constraint``) masks each step's logits
        before the pick and is told the token picked; generation ends when its grammar is complete."""
        if not prompt_ids:
            raise ValueError("the prompt is empty")
        budget = min(params.max_new_tokens, self.max_positions - len(prompt_ids))
        if budget < 1:
            raise PromptTooLong(len(prompt_ids), self.max_positions)
        rng = np.random.default_rng(params.seed)
        cache, done = self._empty_cache(), 0
        for start in range(0, len(prompt_ids), self.prefill_chunk):
            chunk = prompt_ids[start:start + self.prefill_chunk]
            logits, cache = self._run(chunk, cache, done)
            done += len(chunk)
        produced = 0
        while produced < budget:
            if cancel is not None and cancel.is_set():
                return
            if constraint is not None:
                logits = constraint.mask(logits)
            token = pick_token(logits, params, rng)
            if token in stop_ids:
                return
            step = [token]
            if constraint is not None:  # the grammar's forced continuation is fed in one run (jump-forward)
                constraint.accept(token)
                step += constraint.forced(budget - produced - 1)
            yield from step
            produced += len(step)
            if constraint is not None and constraint.finished:
                return
            for start in range(0, len(step) if produced < budget else 0, self.prefill_chunk):
                chunk = step[start:start + self.prefill_chunk]
                logits, cache = self._run(chunk, cache, done)
                done += len(chunk)


class IncrementalDetokenizer:
    """Text deltas from a growing list of token ids, never splitting a UTF-8 character.

    Byte-level BPE tokens can end in the middle of a multi-byte character; decoding such a prefix
    gives U+FFFD. A delta is released only when the text decoded since the last release does not
    end in U+FFFD, so the deltas concatenate to ``decode(all ids)`` (TGI's prefix/read offsets).
    """

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.tokenizer = tokenizer
        self.ids: list[int] = []
        self.prefix = 0  # start of the window re-decoded each time (context for the decoder)
        self.read = 0  # end of what has been released

    def _decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    def push(self, token: int) -> str:
        self.ids.append(token)
        before = self._decode(self.ids[self.prefix:self.read])
        after = self._decode(self.ids[self.prefix:])
        if len(after) > len(before) and not after.endswith("\ufffd"):
            self.prefix, self.read = self.read, len(self.ids)
            return after[len(before):]
        return ""

    def flush(self) -> str:
        """What is left at the end (an incomplete character decodes to U+FFFD here, as in ``decode``)."""
        before = self._decode(self.ids[self.prefix:self.read])
        after = self._decode(self.ids[self.prefix:])
        self.prefix = self.read = len(self.ids)
        return after[len(before):]
