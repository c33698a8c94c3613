"""The fp32 graph's smaller variants: fp16, q4 / q4f16 (MatMulNBits) and q8 (dynamic int8).

- fp16: ``onnxruntime.transformers.float16.convert_float_to_float16(keep_io_types=True)``: inputs,
  outputs and the KV cache stay float32, so every dtype is driven by the same decode loop
  (onnxconverter-common's converter wrote graphs that failed to load: Cast type mismatch). The
  converter also turns RMSNorm's ``Cast(to=float32)`` into float16, so ``x**2`` overflows for any
  activation over 256 where float16 is computed natively; :func:`norms_in_fp32` gives the norms
  back the float32 arithmetic PyTorch uses (its ``block_list`` options write duplicate node names).
- q4: MatMulNBits, 4 bits, blocks of 32, symmetric, on the fp32 graph; q4f16 the same on the fp16
  graph. ``accuracy_level=4`` lets the CPU kernel compute in int8, the fast path on x86.
- q8: ``quantize_dynamic`` with int8 per-channel weights (``onnx/model_quantized.onnx``).

With tied embeddings the exported lm_head multiplies by ``Transpose(embed_tokens)``, which is not a
constant, so quantizers silently skip the largest matrix in the model. :func:`fold_tied_lm_head`
gives the lm_head its own transposed initializer first.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import ModelProto, TensorProto, numpy_helper

logger = logging.getLogger(__name__)

Q4_BLOCK_SIZE = 32


class _DropPreprocessHint(logging.Filter):
    """quantize_dynamic advises shape-inference pre-processing on the root logger; not needed for LLM MatMuls."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Please consider to run pre-processing")


@contextlib.contextmanager
def _quiet(*names: str):
    """ORT's quantizers log every node at INFO; keep their warnings only."""
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def to_fp16(fp32_graph: Path) -> ModelProto:
    """The fp16 graph with float32 inputs and outputs and float32 RMSNorm statistics.

    Takes a path, so models over 2 GB work.
    """
    from onnxruntime.transformers.float16 import convert_float_to_float16

    with _quiet("onnxruntime.transformers.float16"):
        model = convert_float_to_float16(str(fp32_graph), keep_io_types=True)
    norms_in_fp32(model)
    return model


def _rms_norm_chains(model: ModelProto) -> list[tuple[onnx.NodeProto, list[onnx.NodeProto]]]:
    """(Cast, [Pow, ReduceMean, Add, Sqrt, Div, Mul]) for every RMSNorm as torch.onnx exports it."""
    producer = {out: n for n in model.graph.node for out in n.output}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in model.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    chains = []
    for pow_node in (n for n in model.graph.node if n.op_type == "Pow"):
        cast = producer.get(pow_node.input[0])
        if cast is None or cast.op_type != "Cast":
            continue
        chain, current = [pow_node], pow_node
        for wanted in (("ReduceMean",), ("Add",), ("Sqrt",), ("Div", "Reciprocal"), ("Mul",)):
            following = [c for c in consumers.get(current.output[0], []) if c.op_type in wanted]
            if len(following) != 1:
                break
            current = following[0]
            chain.append(current)
        else:
            if cast.output[0] in current.input:  # x * rsqrt(mean(x**2) + eps)
                chains.append((cast, chain))
    return chains


def norms_in_fp32(model: ModelProto) -> int:
    """Compute each RMSNorm's x**2, mean and rsqrt in float32, as PyTorch does; returns how many norms."""
    graph = model.graph
    constants = {n.output[0]: next(a.t for a in n.attribute if a.name == "value")
                 for n in graph.node if n.op_type == "Constant" and any(a.name == "value" for a in n.attribute)}
    initializers = {t.name: t for t in graph.initializer}
    chains = _rms_norm_chains(model)
    retyped: set[str] = set()
    replaced: set[str] = set()
    for cast, chain in chains:
        x, x32 = cast.output[0], cast.output[0] + "_fp32"
        graph.node.insert(list(graph.node).index(cast) + 1,
                          onnx.helper.make_node("Cast", [x], [x32], name=cast.name + "_fp32", to=TensorProto.FLOAT))
        for node in chain:
            retyped.update(node.output)
            for j, name in enumerate(node.input):
                tensor = constants.get(name) or initializers.get(name)
                if name == x:
                    node.input[j] = x32
                elif tensor is not None and tensor.data_type == TensorProto.FLOAT16:
                    copy = name + "_fp32"  # a private float32 copy: the constant may be shared
                    if copy not in initializers:
                        initializers[copy] = numpy_helper.from_array(
                            numpy_helper.to_array(tensor).astype(np.float32), copy)
                        graph.initializer.append(initializers[copy])
                    node.input[j] = copy
                    replaced.add(name)
    used = {name for node in graph.node for name in node.input} | {o.name for o in graph.output}
    unused = replaced - used
    for node in [n for n in graph.node if n.op_type == "Constant" and n.output[0] in unused]:
        graph.node.remove(node)
    for tensor in [t for t in graph.initializer if t.name in unused]:
        graph.initializer.remove(tensor)
    kept = [vi for vi in graph.value_info if vi.name not in retyped]  # stale float16 annotations
    del graph.value_info[:]
    graph.value_info.extend(kept)
    if chains:
        logger.info("fp16: %d RMSNorms keep float32 statistics", len(chains))
    return len(chains)


def fold_tied_lm_head(model: ModelProto) -> list[str]:
    """Replace ``Transpose(initializer)`` feeding a MatMul by a transposed initializer; names folded."""
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    folded = []
    for node in list(graph.node):
        if node.op_type != "Transpose" or node.input[0] not in inits:
            continue
        users = consumers.get(node.output[0], [])
        if not users or any(u.op_type != "MatMul" or u.input[1] != node.output[0] for u in users):
            continue
        perm = next((list(a.ints) for a in node.attribute if a.name == "perm"), None)
        weight = numpy_helper.to_array(inits[node.input[0]])
        if weight.ndim != 2 or perm not in (None, [1, 0]):
            continue
        graph.initializer.append(numpy_helper.from_array(weight.T.copy(), node.output[0]))
        graph.node.remove(node)
        folded.append(node.output[0])
    if folded:
        logger.info("folded tied weights into their own initializers: %s", ", ".join(folded))
    return folded


def float_matmul_weights(model: ModelProto) -> list[str]:
    """MatMul nodes that still multiply by a float constant (what a quantizer should have taken)."""
    inits = {t.name for t in model.graph.initializer}
    return [n.name for n in model.graph.node if n.op_type == "MatMul" and n.input[1] in inits]


def to_q4(model: ModelProto, accuracy_level: int | None = 4, block_size: int = Q4_BLOCK_SIZE) -> ModelProto:
    """MatMulNBits (4-bit, symmetric, ``block_size`` blocks) on every constant MatMul, lm_head included."""
    from onnxruntime.quantization.matmul_nbits_quantizer import (
        DefaultWeightOnlyQuantConfig,
        MatMulNBitsQuantizer,
    )

    fold_tied_lm_head(model)
    config = DefaultWeightOnlyQuantConfig(block_size=block_size, is_symmetric=True, accuracy_level=accuracy_level,
                                          op_types_to_quantize=("MatMul",))
    with _quiet("onnxruntime.quantization.matmul_nbits_quantizer", "onnxruntime.quantization"):
        quantizer = MatMulNBitsQuantizer(model, algo_config=config)
        quantizer.process()
    out = quantizer.model.model
    left = float_matmul_weights(out)
    if left:
        logger.warning("MatMulNBits left %d MatMul weights in float: %s", len(left), ", ".join(left[:5]))
    return out


def to_q8(fp32_graph: Path) -> ModelProto:
    """Dynamic int8 quantisation (per-channel weights) of the fp32 graph, lm_head included."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = onnx.load(str(fp32_graph))
    fold_tied_lm_head(model)
    hint = _DropPreprocessHint()
    logging.getLogger().addFilter(hint)
    try:
        with tempfile.TemporaryDirectory(prefix="alta-q8-") as tmp, _quiet("", "onnxruntime.quantization"):
            src, dst = Path(tmp) / "in.onnx", Path(tmp) / "out.onnx"
            onnx.save_model(model, str(src), save_as_external_data=True, location="in.onnx_data")
            del model
            quantize_dynamic(src, dst, per_channel=True, reduce_range=False, weight_type=QuantType.QInt8,
                             op_types_to_quantize=["MatMul"], use_external_data_format=True,
                             extra_options={"MatMulConstBOnly": True})
            return onnx.load(str(dst))
    finally:
        logging.getLogger().removeFilter(hint)
