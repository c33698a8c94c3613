"""The KV-cache decode loop on ONNX Runtime (numpy only): prefill, step, sample, and detokenise as it goes.

One :class:`KVDecoder` serves concurrent requests: all per-request state (the cache, the random
generator) lives in the :meth:`KVDecoder.tokens` call, and ONNX Runtime's ``run`` is thread-safe.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
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


def _np_dtype(onnx_type: str) -> type:
    return np.float16 if onnx_type == "tensor(float16)" else np.float32


def cpu_session(graph: Path | str, threads: int = 0) -> ort.InferenceSession:
    """The graph on ONNX Runtime's CPU provider with the options onnxruntime-genai decodes with: every graph
    optimisation, ``threads`` intra-op threads (0: ONNX Runtime's choice) that spin between the small
    kernels of a decode step rather than sleep, sequential execution."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.add_session_config_entry("session.intra_op.allow_spinning", "1")
    options.log_severity_level = 3
    return ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])


def config_head_dim(model_dir: Path) -> int | None:
    """The attention head size a Hugging Face ``config.json`` in ``model_dir`` declares (None without one)."""
    try:
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    if config.get("head_dim"):
        return int(config["head_dim"])
    if config.get("hidden_size") and config.get("num_attention_heads"):
        return int(config["hidden_size"]) // int(config["num_attention_heads"])
    return None


class _Cache:
    """One request's KV cache on an IO binding: feeds ``ids`` after ``done`` tokens, returns the last row's logits.

    Inputs are bound as views of preallocated arrays (the attention mask, the positions), and the
    cache never becomes numpy: ``present.*`` OrtValues are bound back as the next ``past_key_values.*``.
    """

    def __init__(self, decoder: KVDecoder, capacity: int) -> None:
        self.decoder = decoder
        self.binding = decoder.session.io_binding()
        self.mask = np.ones((1, capacity), np.int64)
        self.positions = np.arange(capacity, dtype=np.int64)[None]
        self.done = 0
        for i in decoder.past:
            empty = np.zeros((1, i.shape[1], 0, decoder.head_dim), _np_dtype(i.type))
            self.binding.bind_ortvalue_input(i.name, ort.OrtValue.ortvalue_from_numpy(empty))

    def _feed(self, ids: list[int]) -> None:
        total = self.done + len(ids)
        self.ids = np.asarray([ids], np.int64)  # held: the binding reads this memory when the graph runs
        self.binding.bind_cpu_input("input_ids", self.ids)
        self.binding.bind_cpu_input("attention_mask", self.mask[:, :total])
        if self.decoder.has_position_ids:
            self.binding.bind_cpu_input("position_ids", self.positions[:, self.done:total])

    def run(self, ids: list[int]) -> np.ndarray:
        self._feed(ids)
        self.binding.clear_binding_outputs()  # ORT allocates this step's outputs (they grow by len(ids))
        self.binding.bind_output("logits", "cpu")  # first, so it is output 0
        for name in self.decoder.present_name.values():
            self.binding.bind_output(name, "cpu")
        self.decoder.session.run_with_iobinding(self.binding)
        outputs = self.binding.get_outputs()
        for i, present in zip(self.decoder.past, outputs[1:], strict=True):
            self.binding.bind_ortvalue_input(i.name, present)
        self.done += len(ids)
        return outputs[0].numpy()[0, -1]


class _SharedCache(_Cache):
    """The GroupQueryAttention cache: one buffer per layer of the request's full length, bound as both
    ``past_key_values.*`` and ``present.*``; the attention mask tells the graph how much of it is filled,
    so a step writes its own rows in place and nothing is copied or concatenated."""

    def __init__(self, decoder: KVDecoder, capacity: int) -> None:
        self.decoder = decoder
        self.binding = decoder.session.io_binding()
        self.mask = np.ones((1, capacity), np.int64)
        self.done = 0
        # a last-row graph writes its logits into one preallocated row; otherwise ORT allocates them (output 0)
        self.logits = np.zeros((1, 1, decoder.vocab), decoder.logits_dtype) if decoder.vocab else None
        if self.logits is None:
            self.binding.bind_output("logits", "cpu")
        else:
            self.binding.bind_ortvalue_output("logits", ort.OrtValue.ortvalue_from_numpy(self.logits))
        self.buffers = [np.zeros((1, i.shape[1], capacity, decoder.head_dim), _np_dtype(i.type)) for i in decoder.past]
        self.values = [ort.OrtValue.ortvalue_from_numpy(buffer) for buffer in self.buffers]
        for i, value in zip(decoder.past, self.values, strict=True):
            self.binding.bind_ortvalue_input(i.name, value)
            self.binding.bind_ortvalue_output(decoder.present_name[i.name], value)

    def run(self, ids: list[int]) -> np.ndarray:
        self._feed(ids)
        if self.logits is None:
            self.binding.bind_output("logits", "cpu")  # rebound: its rows follow len(ids)
        self.decoder.session.run_with_iobinding(self.binding)
        self.done += len(ids)
        if self.logits is None:
            return self.binding.get_outputs()[0].numpy()[0, -1]
        return self.logits[0, -1]  # a view of this request's row: read before its next run, which overwrites it


class KVDecoder:
    """Runs a ``text-generation-with-past`` graph token by token, feeding back ``present.*`` as the cache.

    Two kinds of graph: optimum's (``position_ids``, attention that concatenates the cache each step)
    and GroupQueryAttention graphs such as onnxruntime-genai's builder makes (no ``position_ids``: the
    attention mask gives the positions and the filled length, and past and present share one buffer,
    :class:`_SharedCache`). A graph whose logits have one row (the builder's ``prune_lm_head``) computes
    the LM head for the last prompt position only.
    """

    def __init__(self, session: ort.InferenceSession, max_positions: int, prefill_chunk: int = 0,
                 head_dim: int | None = None) -> None:
        """``prefill_chunk``: prompt tokens per prefill run; 0 runs the whole prompt at once, as the exporter's
        validation and Transformers.js do. Chunks bound the memory of the prefill's logits (every prompt
        position, times the vocabulary, unless the graph keeps the last row only), but q8's dynamic activation
        scales then differ, and so may its tokens. ``head_dim``: the cache's last dimension, needed when the
        graph leaves it symbolic (GroupQueryAttention graphs do; the bundle's config.json has it).
        """
        self.session = session
        self.max_positions = max_positions
        self.prefill_chunk = prefill_chunk or max_positions
        inputs = {i.name: i for i in session.get_inputs()}
        outputs = {o.name: o for o in session.get_outputs()}
        missing = [n for n in ("input_ids", "attention_mask") if n not in inputs]
        self.past = [i for name, i in inputs.items() if name.startswith(PAST_PREFIX)]
        self.present_name = {i.name: i.name.replace(PAST_PREFIX, PRESENT_PREFIX, 1) for i in self.past}
        if missing or not self.past or "logits" not in outputs or not set(self.present_name.values()) <= set(outputs):
            raise ValueError(f"the graph lacks {missing or ['past_key_values.*, present.*, logits']}: it was not exported "
                             "with past key values (task text-generation-with-past); re-export it with "
                             "`python -m export bundle`")
        self.has_position_ids = "position_ids" in inputs
        self.shared_cache = not self.has_position_ids  # GroupQueryAttention: positions from the mask, one buffer
        dims = {i.shape[3] for i in self.past}
        if len(dims) == 1 and isinstance(next(iter(dims)), int):
            self.head_dim = int(next(iter(dims)))
        elif head_dim:
            self.head_dim = head_dim
        else:
            raise ValueError("the graph's cache has no fixed head size: pass head_dim (the bundle's config.json "
                             "hidden_size / num_attention_heads)")
        self.last_row_logits = outputs["logits"].shape[1] == 1
        vocab = outputs["logits"].shape[2]
        self.vocab = vocab if self.last_row_logits and isinstance(vocab, int) else 0  # 0: rows vary, ORT allocates
        self.logits_dtype = _np_dtype(outputs["logits"].type)

    def cache(self, capacity: int) -> _Cache:
        """A fresh cache for a request of at most ``capacity`` tokens (prompt and new tokens)."""
        return _SharedCache(self, capacity) if self.shared_cache else _Cache(self, capacity)

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
        cache = self.cache(len(prompt_ids) + budget)
        for start in range(0, len(prompt_ids), self.prefill_chunk):
            logits = cache.run(prompt_ids[start:start + self.prefill_chunk])
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
                logits = cache.run(step[start:start + self.prefill_chunk])


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
