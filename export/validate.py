"""The validation gate: a graph ships only if ONNX Runtime answers the golden prompts as PyTorch does.

For every dtype, ONNX Runtime runs the golden prompts of the prompt contract through the KV-cache
decode loop twice from one prefill: teacher-forced on PyTorch's greedy tokens (every step's logits
compare with PyTorch's, so one early near-tie does not hide how the rest agrees) and free-running
(the greedy tokens this dtype really writes, recorded in the manifest for the backend and browser
tests). Outputs and float initializers are scanned for NaN/inf.

Metrics per step, teacher-forced: top-1 agreement, KL(PyTorch || ORT) of the next-token
distributions (llama.cpp's measure of quantisation damage; robust to near-ties, which flip top-1
without changing what the model believes), logit cosine, and max |logit difference| relative to
the largest PyTorch logit. The prompt's last-token logits (step 0) are reported on their own too.

Thresholds (:data:`THRESHOLDS`), and why:
- fp32 is the same arithmetic as PyTorch: greedy tokens identical, top-1 1.0, cosine >= 0.99999,
  max |diff| <= 1e-3 of the range, KL <= 1e-4 (ORT and PyTorch differ by ~1e-6 in the logits).
- fp16 rounds weights and activations to 11 significant bits; 1-2B models typically keep >= 99%
  of next-token choices with KL ~1e-4. Gate at top-1 >= 0.97, KL <= 0.01, cosine >= 0.999, max
  |diff| <= 5% of range: generous for rounding, but overflow (inf/NaN), weights clamped at ±65504
  and broken casts all fail it.
- q4 / q4f16 (round-to-nearest, symmetric, 32-weight blocks: llama.cpp's Q4_0 scheme): llama.cpp's
  KL statistics for Q4_0 on 1-8B models show mean KL of a few hundredths to ~0.1 and the same
  top token ~85-95% of the time, worse for the smallest models. Gate at top-1 >= 0.80, KL <= 0.2.
  Cosine and max |diff| span the whole vocabulary, whose tail the model never picks and 4-bit noise
  moves freely (a tiny model measured cosine 0.94 with top-1 0.99 and KL 0.005), so they are wide
  backstops: cosine >= 0.90, max |diff| <= 50% of range. A destroyed quantisation lands far outside
  (the test's scrambled scales: top-1 0.0, cosine -0.04).
- q8 (dynamic int8, per-channel weights) sits between: top-1 >= 0.90, KL <= 0.05, cosine >= 0.98,
  max |diff| <= 25%.
Greedy tokens of the lossy dtypes are recorded (the first divergence reported), not gated: one
near-tie changes every token after it without the model being worse. The thresholds are tuned
for trained models; a random test model's flat logits can sit near the q4 limits.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, numpy_helper
from onnx.external_data_helper import load_external_data_for_tensor

from export.reference import Reference

logger = logging.getLogger(__name__)

ORT_ERRORS = tuple(getattr(ort.capi.onnxruntime_pybind11_state, n) for n in (
    "Fail", "InvalidArgument", "InvalidGraph", "InvalidProtobuf", "NoSuchFile", "NotImplemented",
    "RuntimeException", "EPFail"))
FLOAT_TYPES = {TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.DOUBLE, TensorProto.BFLOAT16}


@dataclass(frozen=True)
class Thresholds:
    """What a dtype must meet against PyTorch fp32 on the golden prompts."""

    exact_tokens: bool
    min_top1: float  # teacher-forced next-token agreement, over all steps of all prompts
    min_cosine: float  # the lowest logit-vector cosine over all steps
    max_rel_abs: float  # max |ORT - PyTorch| over all steps, divided by max |PyTorch logit|
    max_mean_kl: float  # mean KL(PyTorch || ORT) of next-token distributions, over all steps


THRESHOLDS: dict[str, Thresholds] = {
    "fp32": Thresholds(exact_tokens=True, min_top1=1.0, min_cosine=0.99999, max_rel_abs=1e-3, max_mean_kl=1e-4),
    "fp16": Thresholds(exact_tokens=False, min_top1=0.97, min_cosine=0.999, max_rel_abs=0.05, max_mean_kl=0.01),
    "q8": Thresholds(exact_tokens=False, min_top1=0.90, min_cosine=0.98, max_rel_abs=0.25, max_mean_kl=0.05),
    "q4": Thresholds(exact_tokens=False, min_top1=0.80, min_cosine=0.90, max_rel_abs=0.5, max_mean_kl=0.2),
    "q4f16": Thresholds(exact_tokens=False, min_top1=0.80, min_cosine=0.90, max_rel_abs=0.5, max_mean_kl=0.2),
}


# The structural gate (``--gate structural``, for random-weight exports): each quantised graph is
# compared with its own dequantised float twin (export.dequantize), the same weights computed in
# float32, so only the quantised kernels' arithmetic separates them (int8 activations at
# accuracy_level 4, float16 activations in q4f16). Measured on random Qwen2.5-shaped models: logit
# cosine >= 0.9997 (2 layers) to ~0.999 (24-28 layers), max |diff| ~2% of the range; greedy top-1
# flips on the near-ties of flat random logits, so top-1 is a loose backstop. A wrong kernel, packing,
# scale layout or graph lands far outside (cosine near 0). fp32 and fp16 have no quantised weights
# and keep the PyTorch gate above (random weights pass it: rounding, not quantisation).
# q8 (dynamic int8, export.int8) quantises each MatMul's input with one uint8 scale for the whole
# tensor, coarser than 4-bit's per-block int8 at accuracy_level 4, and coarsest in the prefill, where
# one scale covers every prompt row. Measured against the twin: 2-layer 0.5B-wide model cosine 0.996,
# top-1 1/3 on the shortest prompt's 3 tokens; 24-layer 0.5B min cosine 0.993; 28-layer 1.5B 0.957 on
# a 499-token prefill (0.987 prefilled 64 rows at a time) and 0.993-0.995 on every decode step after,
# max |diff| 24% of the range. Its structural thresholds are set for that arithmetic: a broken kernel
# or scale layout still lands near cosine 0 (tests/unit/test_real_shapes.py); whether that rounding
# is acceptable for a real model is the reference gate's call (q8 above, judged against PyTorch).
STRUCTURAL: dict[str, Thresholds] = {
    **{dtype: Thresholds(exact_tokens=False, min_top1=0.5, min_cosine=0.99, max_rel_abs=0.15, max_mean_kl=0.02)
       for dtype in ("q4", "q4f16")},
    "q8": Thresholds(exact_tokens=False, min_top1=0.25, min_cosine=0.95, max_rel_abs=0.3, max_mean_kl=0.02),
}
STRUCTURAL_DTYPES = tuple(STRUCTURAL)


def thresholds_for(dtype: str, overrides: dict[str, dict[str, float]] | None = None,
                   structural: bool = False) -> Thresholds:
    """The default thresholds of ``dtype`` with any explicit overrides (recorded in the manifest).

    ``structural``: the structural gate's thresholds for the quantised dtypes (see :data:`STRUCTURAL`).
    """
    changes = (overrides or {}).get(dtype, {})
    unknown = set(changes) - set(Thresholds.__dataclass_fields__)
    if unknown:
        raise ValueError(f"unknown threshold fields {sorted(unknown)}; known: {sorted(Thresholds.__dataclass_fields__)}")
    base = STRUCTURAL[dtype] if structural and dtype in STRUCTURAL else THRESHOLDS[dtype]
    return replace(base, **changes)


@dataclass
class PromptResult:
    """One golden prompt through one graph."""

    name: str
    greedy_tokens: list[int]
    first_divergence: int | None  # index of the first greedy token that differs from PyTorch's
    top1_agreement: float
    mean_kl: float
    last_token_max_abs: float  # the prompt's last-token logits, as the issue asks
    last_token_cosine: float
    min_cosine: float
    max_abs: float
    max_rel_abs: float
    nonfinite_step: int | None = None


@dataclass
class Verdict:
    """A dtype's validation result: passed or not, why, and the numbers behind it."""

    dtype: str
    passed: bool
    reasons: list[str] = field(default_factory=list)
    thresholds: dict = field(default_factory=dict)
    prompts: list[PromptResult] = field(default_factory=list)

    @property
    def top1_agreement(self) -> float:
        return float(np.mean([p.top1_agreement for p in self.prompts])) if self.prompts else float("nan")

    @property
    def min_cosine(self) -> float:
        return min((p.min_cosine for p in self.prompts), default=float("nan"))

    @property
    def mean_kl(self) -> float:
        return float(np.mean([p.mean_kl for p in self.prompts])) if self.prompts else float("nan")

    def to_dict(self) -> dict:
        """JSON-safe: a broken graph's NaN/inf metrics become null (browsers' JSON.parse refuses NaN)."""
        return _json_safe({"passed": self.passed, "reasons": self.reasons, "thresholds": self.thresholds,
                           "top1_agreement": self.top1_agreement, "mean_kl": self.mean_kl,
                           "min_cosine": self.min_cosine, "prompts": [asdict(p) for p in self.prompts]})


def _json_safe(value):
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


_QUANTISED_OPS = frozenset({"MatMulNBits", "GatherBlockQuantized", "MatMulInteger", "DynamicQuantizeLinear"})


def _quantised(graph: Path) -> bool:
    """Whether the graph runs quantised kernels (read without its weights)."""
    model = onnx.load(str(graph), load_external_data=False)
    return any(node.op_type in _QUANTISED_OPS for node in model.graph.node)


def make_session(graph: Path, threads: int = 0) -> ort.InferenceSession:
    """A CPU session for the gate, computing as the engine's session does.

    Weight pre-packing is off for float graphs only: MLAS keeps a packed copy of every float MatMul
    weight beside the original, which doubles a 1.5B fp32 graph to ~13 GB, and packing does not change
    float results. Quantised graphs keep it: MatMulNBits computes with accuracy_level 4 (int8) only on
    pre-packed weights and otherwise dequantises to fp32, so an unpacked gate would record greedy
    tokens the engine never writes."""
    options = ort.SessionOptions()
    options.log_severity_level = 3
    if not _quantised(graph):
        options.add_session_config_entry("session.disable_prepacking", "1")
    options.intra_op_num_threads = threads
    return ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])


class _Decoder:
    """A minimal KV-cache step function over a session (the backend has its own; they must agree)."""

    def __init__(self, session: ort.InferenceSession) -> None:
        self.session = session
        self.output_names = [o.name for o in session.get_outputs()]
        self.past_inputs = [i for i in session.get_inputs() if i.name.startswith("past_key_values.")]
        self.has_position_ids = any(i.name == "position_ids" for i in session.get_inputs())

    def empty_past(self) -> dict[str, np.ndarray]:
        past = {}
        for i in self.past_inputs:
            _batch, heads, _length, dim = i.shape
            dtype = np.float16 if i.type == "tensor(float16)" else np.float32
            past[i.name] = np.zeros((1, heads, 0, dim), dtype)
        return past

    def step(self, ids: list[int], past: dict[str, np.ndarray]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        done = next(iter(past.values())).shape[2] if past else 0
        feed = {"input_ids": np.array([ids], np.int64),
                "attention_mask": np.ones((1, done + len(ids)), np.int64), **past}
        if self.has_position_ids:
            feed["position_ids"] = np.arange(done, done + len(ids), dtype=np.int64)[None]
        outputs = dict(zip(self.output_names, self.session.run(None, feed), strict=True))
        new_past = {name.replace("present", "past_key_values"): v for name, v in outputs.items() if name != "logits"}
        return outputs["logits"][0, -1].astype(np.float32), new_past


def _finite(arrays: dict[str, np.ndarray]) -> bool:
    return all(np.isfinite(a).all() for a in arrays.values())


def run_prompt(decoder: _Decoder, ref: Reference) -> tuple[np.ndarray, list[int], int | None]:
    """Teacher-forced logits along PyTorch's tokens, this graph's own greedy tokens, first non-finite step."""
    n = len(ref.tokens)
    logits, past = decoder.step(ref.prompt_ids, decoder.empty_past())
    if not (np.isfinite(logits).all() and _finite(past)):
        return np.stack([logits] * n), [], 0
    forced, free = [logits], None
    free_past, free_tokens = None, []
    for i in range(n):
        mine = int(forced[-1].argmax())
        if free is None and mine != ref.tokens[i]:
            free, free_past, free_tokens = forced[-1], dict(past), list(ref.tokens[:i])  # fork here
        if i + 1 < n:
            logits, past = decoder.step([ref.tokens[i]], past)
            if not np.isfinite(logits).all():
                return np.stack(forced + [logits] * (n - len(forced))), [], i + 1
            forced.append(logits)
    if free is None:
        return np.stack(forced), list(ref.tokens), None
    while len(free_tokens) < n:  # the graph's own continuation after its first different choice
        free_tokens.append(int(free.argmax()))
        if len(free_tokens) < n:
            free, free_past = decoder.step([free_tokens[-1]], free_past)
    if not _finite(past):
        return np.stack(forced), free_tokens, n
    return np.stack(forced), free_tokens, None


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    return (a64 * b64).sum(-1) / (np.linalg.norm(a64, axis=-1) * np.linalg.norm(b64, axis=-1) + 1e-30)


def _log_softmax(x: np.ndarray) -> np.ndarray:
    x64 = x.astype(np.float64)
    shifted = x64 - x64.max(-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))


def compare(ref: Reference, logits: np.ndarray, greedy: list[int], nonfinite: int | None) -> PromptResult:
    with np.errstate(invalid="ignore", over="ignore"):  # a broken graph's NaN/inf is judged, not warned about
        return _compare(ref, logits, greedy, nonfinite)


def _compare(ref: Reference, logits: np.ndarray, greedy: list[int], nonfinite: int | None) -> PromptResult:
    diff = np.abs(logits.astype(np.float64) - ref.logits)
    cos = _cosine(logits, ref.logits)
    top1 = float(np.mean(logits.argmax(-1) == np.asarray(ref.tokens)))
    log_p, log_q = _log_softmax(ref.logits), _log_softmax(logits)
    kl = float(np.mean((np.exp(log_p) * (log_p - log_q)).sum(-1)))
    divergence = next((i for i, (a, b) in enumerate(zip(greedy, ref.tokens, strict=False)) if a != b),
                      None if len(greedy) == len(ref.tokens) else len(greedy))
    scale = float(np.abs(ref.logits).max()) or 1.0
    return PromptResult(ref.name, greedy, divergence, top1, kl, float(diff[0].max()), float(cos[0]),
                        float(cos.min()), float(diff.max()), float(diff.max() / scale), nonfinite)


def scan_initializers(graph: Path) -> list[str]:
    """Float initializers holding NaN or inf (one tensor in memory at a time)."""
    model = onnx.load(str(graph), load_external_data=False)
    bad = []
    for tensor in model.graph.initializer:
        if tensor.data_type not in FLOAT_TYPES:
            continue
        if tensor.data_location == TensorProto.EXTERNAL:
            load_external_data_for_tensor(tensor, str(graph.parent))
        values = numpy_helper.to_array(tensor)
        count = int(values.size - np.isfinite(values.astype(np.float32)).sum())
        if count:
            bad.append(f"initializer {tensor.name!r} holds {count} NaN/inf values")
    return bad


def judge(dtype: str, results: list[PromptResult], limits: Thresholds) -> list[str]:
    """The reasons ``dtype`` fails, empty when it passes."""
    reasons = []
    broken = [f"{r.name!r} (step {r.nonfinite_step})" for r in results if r.nonfinite_step is not None]
    if broken:
        hint = ("; values beyond float16's ±65504: ship fp32/q4 for this model, or rescale the weights that overflow"
                if "16" in dtype else "; the graph or its quantisation is broken: do not ship it")
        return [f"{dtype}: outputs contain NaN/inf on golden prompts {', '.join(broken)}{hint}"]
    for r in results:
        if limits.exact_tokens and r.first_divergence is not None:
            reasons.append(f"{dtype}: greedy token {r.first_divergence} of prompt {r.name!r} differs from PyTorch's; "
                           "an fp32 graph must reproduce the checkpoint exactly: re-export, and check the opset and "
                           "the attention export")
    top1 = float(np.mean([r.top1_agreement for r in results]))
    if top1 < limits.min_top1:
        reasons.append(f"{dtype}: teacher-forced top-1 agreement with PyTorch {top1:.3f} is below {limits.min_top1} "
                       "(the quantisation changes what the model writes)")
    kl = float(np.mean([r.mean_kl for r in results]))
    if kl > limits.max_mean_kl:
        reasons.append(f"{dtype}: mean KL divergence from PyTorch's next-token distribution {kl:.4f} is above "
                       f"{limits.max_mean_kl}")
    cos = min(r.min_cosine for r in results)
    if cos < limits.min_cosine:
        reasons.append(f"{dtype}: lowest logits cosine to PyTorch {cos:.5f} is below {limits.min_cosine}")
    rel = max(r.max_rel_abs for r in results)
    if rel > limits.max_rel_abs:
        reasons.append(f"{dtype}: max |logit difference| is {rel:.3g} of the logits' range, above {limits.max_rel_abs}")
    return reasons


def validate_graph(dtype: str, graph: Path, refs: list[Reference], limits: Thresholds | None = None,
                   fp16_overflow: dict[str, float] | None = None) -> Verdict:
    """Run the gate for one saved graph; the verdict says whether it ships and why not.

    ``fp16_overflow`` (from :mod:`export.fp16_range`, for graphs computed in float16) lists tensors
    whose values leave float16's range: the graph fails even if its CPU run looks clean.
    """
    limits = limits or THRESHOLDS[dtype]
    verdict = Verdict(dtype, passed=False, thresholds=asdict(limits))
    bad_weights = scan_initializers(graph)
    if bad_weights:
        verdict.reasons = [f"{dtype}: {msg}" for msg in bad_weights[:5]]
        return verdict
    try:
        decoder = _Decoder(make_session(graph))
    except ORT_ERRORS as exc:
        verdict.reasons = [f"{dtype}: ONNX Runtime cannot load {graph.name}: {exc}"]
        return verdict
    for ref in refs:
        logits, greedy, nonfinite = run_prompt(decoder, ref)
        verdict.prompts.append(compare(ref, logits, greedy, nonfinite))
    verdict.reasons = judge(dtype, verdict.prompts, limits)
    if fp16_overflow:
        name, peak = next(iter(fp16_overflow.items()))
        verdict.reasons.append(
            f"{dtype}: {len(fp16_overflow)} float16 tensors leave float16's ±65504 range on the golden prompts "
            f"(largest: {name!r} reaches {peak:.3g}); the graph overflows to inf/NaN wherever float16 is computed "
            "natively (WebGPU) even when ONNX Runtime's CPU run looks clean: ship fp32/q4 for this model, or "
            "rescale the weights that overflow")
    verdict.passed = not verdict.reasons
    logger.info("%s: %s (top-1 %.3f, mean KL %.2g, min cosine %.5f)", dtype,
                "passed" if verdict.passed else "FAILED", verdict.top1_agreement, verdict.mean_kl, verdict.min_cosine)
    return verdict
