"""Streaming dynamic-int8 quantisation of a float graph (q8): one weight in memory at a time.

Each constant MatMul becomes the pattern ``onnxruntime.quantization.quantize_dynamic`` writes, in
standard ONNX ops that every build of ONNX Runtime runs (the WASM one included)::

    DynamicQuantizeLinear(x) -> MatMulInteger(x_q, W_q, x_zp, W_zp) -> Cast(float) -> Mul(x_scale * W_scale)

with ``W_q`` int8, symmetric per output channel (``scale = max|W[:, n]| / 127``, zero point 0), and one
DynamicQuantizeLinear per activation however many MatMuls read it. ONNX Runtime fuses the pattern into
``DynamicQuantizeMatMul`` at load; its CPU kernel computes in int8 (VNNI on x86), and in the browser
MLAS's WASM SIMD kernel does. Measured on the Qwen2.5-0.5B shape, GQA graph, 2 threads: Python ORT 40.5
tok/s against 23.5 for 8-bit MatMulNBits, and Chromium WASM 9.0 tok/s where 4-bit MatMulNBits makes
1.2 (onnxruntime-web dequantises MatMulNBits to float32 on every call).

Unlike ``quantize_dynamic``, which loads the whole model (13+ GB for Qwen2.5-1.5B in fp32), this reads
each weight from the float graph's external data, quantises it and writes it out before the next.

The tied embedding (``Transpose(W_lm_head) -> Gather``), with ``embedding="quantised"``, reads the
lm_head's own int8 matrix: ``Gather(W_q, ids, axis=1)``, transposed, times the row's scale. The
vocabulary matrix is stored once, in int8, and only standard ops read it (unlike 4-bit's
GatherBlockQuantized, which onnxruntime-web lacks). ``"float"`` keeps the float matrix for the Gather.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from export.dequantize import _carried, _replace_contents, _Tensors, _Writer
from export.nbits import EMBEDDINGS, constant_matmul_weight, rewrite_tied_embeddings, tied_embedding_sites

logger = logging.getLogger(__name__)

_COLUMNS = 4096  # output channels quantised at a time (bounds the float32 scratch)


def quantize_columns(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(K, N)`` float weight -> (int8 ``(K, N)``, float32 scales ``(N,)``), symmetric per column.

    The arithmetic of ``quantize_dynamic(per_channel=True, weight_type=QInt8)``: ``scale = absmax / 127``,
    round half to even, zero point 0.
    """
    rows, cols = weight.shape
    quantised = np.empty((rows, cols), np.int8)
    scales = np.empty(cols, np.float32)
    for start in range(0, cols, _COLUMNS):
        band = weight[:, start:start + _COLUMNS].astype(np.float32)
        absmax = np.abs(band).max(axis=0)
        scale = np.where(absmax > 0, absmax / np.float32(127), np.float32(1)).astype(np.float32)
        quantised[:, start:start + _COLUMNS] = np.clip(np.rint(band / scale), -127, 127).astype(np.int8)
        scales[start:start + _COLUMNS] = scale
    return quantised, scales


def quantize_graph_int8(src: Path, dst: Path, embedding: str = "quantised") -> int:
    """Write ``dst`` (+ ``dst.name + '_data'``): ``src`` with every constant 2-D float32 MatMul in dynamic int8.

    Returns how many MatMul weights were quantised.
    """
    if embedding not in EMBEDDINGS:
        raise ValueError(f"embedding must be one of {', '.join(EMBEDDINGS)}, not {embedding!r}")
    model = onnx.load(str(src), load_external_data=False)
    graph = model.graph
    tensors = _Tensors(model, src.parent)
    writer = _Writer(dst.parent / (dst.name + "_data"))
    quantised: dict[str, tuple[str, str, str]] = {}  # float weight -> (int8 weight, scales, zero points)
    activations: dict[str, tuple[str, str, str]] = {}  # float input -> DynamicQuantizeLinear's outputs
    new_nodes: list[onnx.NodeProto] = []
    new_inits: list[TensorProto] = []
    try:
        for node in graph.node:
            weight = constant_matmul_weight(node, tensors, (TensorProto.FLOAT,))
            if weight is None:
                new_nodes.append(node)
                continue
            if weight not in quantised:
                q, scales = quantize_columns(tensors.array(weight))
                names = (f"{weight}_quantized", f"{weight}_scale", f"{weight}_zero_point")
                new_inits.append(writer.add(names[0], TensorProto.INT8, list(q.shape), [q.tobytes()]))
                new_inits.append(numpy_helper.from_array(scales, names[1]))
                new_inits.append(numpy_helper.from_array(np.zeros(scales.shape, np.int8), names[2]))
                quantised[weight] = names
                del q
            x = node.input[0]
            if x not in activations:
                stem = f"{x}_dq"
                activations[x] = (f"{stem}_quantized", f"{stem}_scale", f"{stem}_zero_point")
                new_nodes.append(helper.make_node("DynamicQuantizeLinear", [x], list(activations[x]),
                                                  name=f"{node.name}_DynamicQuantizeLinear"))
            x_q, x_scale, x_zp = activations[x]
            w_q, w_scale, w_zp = quantised[weight]
            out, stem = node.output[0], node.name
            new_nodes += [
                helper.make_node("MatMulInteger", [x_q, w_q, x_zp, w_zp], [f"{stem}_int32"], name=f"{stem}_MatMulInteger"),
                helper.make_node("Cast", [f"{stem}_int32"], [f"{stem}_float"], name=f"{stem}_Cast", to=TensorProto.FLOAT),
                helper.make_node("Mul", [x_scale, w_scale], [f"{stem}_scale"], name=f"{stem}_scales_Mul"),
                helper.make_node("Mul", [f"{stem}_float", f"{stem}_scale"], [out], name=f"{stem}_output_Mul"),
            ]
        if embedding == "quantised":
            new_nodes = _tied_embedding(new_nodes, quantised, graph, new_inits)
        kept = _carried(graph, new_nodes, tensors, writer)  # a float weight the Gather still reads stays
    finally:
        writer.close()
        tensors.close()
    _replace_contents(graph, new_nodes, kept + new_inits)
    onnx.save_model(model, str(dst))
    logger.info("%s: %d MatMul weights quantised to int8 (dynamic, per channel)", dst.name, len(quantised))
    return len(quantised)


def _tied_embedding(nodes: list[onnx.NodeProto], quantised: dict[str, tuple[str, str, str]], graph: onnx.GraphProto,
                    new_inits: list[TensorProto]) -> list[onnx.NodeProto]:
    """``Transpose(W) -> Gather(ids)`` on a quantised lm_head W reads W's int8 columns and their scales."""

    def replace(transpose: onnx.NodeProto, gather: onnx.NodeProto) -> list[onnx.NodeProto]:
        w_q, w_scale, _ = quantised[transpose.input[0]]
        ids, stem = gather.input[1], gather.name
        axes = f"{stem}_scale_axes"
        new_inits.append(numpy_helper.from_array(np.array([-1], np.int64), axes))
        return [
            helper.make_node("Gather", [w_q, ids], [f"{stem}_columns"], name=f"{stem}_int8", axis=1),  # (H, B, S)
            helper.make_node("Transpose", [f"{stem}_columns"], [f"{stem}_rows"], name=f"{stem}_rows", perm=[1, 2, 0]),
            helper.make_node("Cast", [f"{stem}_rows"], [f"{stem}_float"], name=f"{stem}_Cast", to=TensorProto.FLOAT),
            helper.make_node("Gather", [w_scale, ids], [f"{stem}_row_scale"], name=f"{stem}_scales", axis=0),
            helper.make_node("Unsqueeze", [f"{stem}_row_scale", axes], [f"{stem}_row_scale_1"], name=f"{stem}_Unsqueeze"),
            helper.make_node("Mul", [f"{stem}_float", f"{stem}_row_scale_1"], list(gather.output), name=f"{stem}_Mul"),
        ]

    ranks = {v.name: len(v.type.tensor_type.shape.dim) for v in graph.input}
    sites = tied_embedding_sites(nodes, quantised, lambda _, gather: ranks.get(gather.input[1]) == 2)  # input_ids
    return rewrite_tied_embeddings(nodes, sites, replace)
