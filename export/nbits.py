"""Streaming MatMulNBits quantisation of a float graph: one weight in memory at a time.

onnxruntime-genai's builder quantises by turning its whole model into one in-memory ModelProto
beside the PyTorch model (about three copies of the weights: 20 GB for Qwen2.5-1.5B). Here the
builder writes the float graph only (fp32, or fp16 for q4f16), and this module reads each constant
MatMul weight from its external data, quantises it with ONNX Runtime's own MLAS routine (the one
``MatMulNBitsQuantizer`` calls: symmetric blocks along K, uint8 with zero point ``2**(bits-1)``),
and writes the blocks out before the next. The tied embedding (``Transpose(lm_head) -> Gather``)
becomes ``GatherBlockQuantized`` over the lm_head's blocks, so the vocabulary matrix is stored once,
quantised.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from export.dequantize import _carried, _consumers, _replace_contents, _Tensors, _Writer

logger = logging.getLogger(__name__)

FLOATS = {TensorProto.FLOAT: np.float32, TensorProto.FLOAT16: np.float16}


def quantize_weight(weight: np.ndarray, bits: int, block_size: int) -> tuple[np.ndarray, np.ndarray]:
    """``(K, N)`` float weight -> (blocks ``(N, k_blocks, blob)`` uint8, scales ``(N, k_blocks)``)."""
    from onnxruntime.capi._pybind_state import quantize_matmul_4bits, quantize_matmul_8bits

    rows, cols = weight.shape
    k_blocks = -(-rows // block_size)
    pad = k_blocks * block_size - rows
    if pad:
        weight = np.pad(weight, ((0, pad), (0, 0)))
    weight = np.ascontiguousarray(weight)
    blob = block_size * bits // 8
    packed = np.zeros((cols, k_blocks, blob), np.uint8)
    zero_point = np.zeros((cols, -(-k_blocks // (8 // bits))), np.uint8)
    scales = np.zeros((cols, k_blocks), weight.dtype)
    quantize = quantize_matmul_8bits if bits == 8 else quantize_matmul_4bits
    quantize(packed, weight, scales, zero_point, block_size, cols, rows, True)
    return packed, scales


EMBEDDINGS = ("quantised", "float")


def quantize_graph(src: Path, dst: Path, bits: int = 4, block_size: int = 32, accuracy_level: int = 4,
                   embedding: str = "quantised") -> int:
    """Write ``dst`` (+ ``dst.name + '_data'``): ``src`` with every constant 2-D MatMul as MatMulNBits.

    ``embedding``: "quantised" reads the tied embedding from the lm_head's blocks (GatherBlockQuantized:
    stored once; ONNX Runtime on CPU); "float" keeps the input Gather on the float matrix beside the
    quantised lm_head (onnxruntime-web's WASM build has no GatherBlockQuantized kernel).
    Returns how many MatMuls were quantised.
    """
    if embedding not in EMBEDDINGS:
        raise ValueError(f"embedding must be one of {', '.join(EMBEDDINGS)}, not {embedding!r}")
    if bits not in (4, 8):
        raise ValueError(f"bits must be 4 or 8, not {bits}")
    model = onnx.load(str(src), load_external_data=False)
    graph = model.graph
    tensors = _Tensors(model, src.parent)
    writer = _Writer(dst.parent / (dst.name + "_data"))
    quantised: dict[str, tuple[str, str, int, int]] = {}  # float weight -> (blocks, scales, K, N)
    new_nodes: list[onnx.NodeProto] = []
    new_inits: list[TensorProto] = []
    try:
        for node in graph.node:
            weight = constant_matmul_weight(node, tensors, FLOATS)
            if weight is None:
                new_nodes.append(node)
                continue
            tensor = tensors.by_name[weight]
            if weight not in quantised:
                k, n = tensor.dims
                packed, scales = quantize_weight(tensors.array(weight), bits, block_size)
                blocks_name, scales_name = f"{weight}_Q{bits}", f"{weight}_scales"
                new_inits.append(writer.add(blocks_name, TensorProto.UINT8, list(packed.shape), [packed.tobytes()]))
                new_inits.append(writer.add(scales_name, tensor.data_type, list(scales.shape), [scales.tobytes()]))
                quantised[weight] = (blocks_name, scales_name, k, n)
                del packed, scales
            blocks_name, scales_name, k, n = quantised[weight]
            new_nodes.append(helper.make_node(
                "MatMulNBits", [node.input[0], blocks_name, scales_name], list(node.output), name=node.name + f"_Q{bits}",
                domain="com.microsoft", K=k, N=n, bits=bits, block_size=block_size, accuracy_level=accuracy_level))
        if embedding == "quantised":
            new_nodes = _tied_embedding(new_nodes, quantised, bits, block_size, new_inits)
        kept = _carried(graph, new_nodes, tensors, writer)  # a float weight the Gather still reads stays
    finally:
        writer.close()
        tensors.close()
    _replace_contents(graph, new_nodes, kept + new_inits)
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    onnx.save_model(model, str(dst))
    logger.info("%s: %d MatMul weights quantised to %d bits (block %d)", dst.name, len(quantised), bits, block_size)
    return len(quantised)


def tied_embedding_sites(nodes: list[onnx.NodeProto], quantised: dict, accept=lambda weight, gather: True,
                         ) -> dict[int, onnx.NodeProto]:
    """``id(Transpose)`` -> its Gather for each tied embedding the quantiser can rewrite: ``Transpose(W) ->
    Gather(axis 0)``, W a quantised weight, the Transpose read by that Gather only, and ``accept(W, gather)``."""
    consumers = _consumers(nodes)
    sites = {}
    for node in nodes:
        perm = next((list(a.ints) for a in node.attribute if a.name == "perm"), None)
        if node.op_type != "Transpose" or node.input[0] not in quantised or perm not in (None, [1, 0]):
            continue
        users = consumers.get(node.output[0], [])
        if (len(users) == 1 and users[0].op_type == "Gather"
                and all(a.i == 0 for a in users[0].attribute if a.name == "axis") and accept(node.input[0], users[0])):
            sites[id(node)] = users[0]
    return sites


def rewrite_tied_embeddings(nodes: list[onnx.NodeProto], sites: dict[int, onnx.NodeProto],
                            replace) -> list[onnx.NodeProto]:
    """``nodes`` with each site's Transpose and Gather replaced by ``replace(transpose, gather)``'s nodes."""
    gathers = {id(g) for g in sites.values()}
    out: list[onnx.NodeProto] = []
    for node in nodes:
        if id(node) in gathers:
            continue
        gather = sites.get(id(node))
        out += [node] if gather is None else replace(node, gather)
    return out


def constant_matmul_weight(node: onnx.NodeProto, tensors: _Tensors, types) -> str | None:
    """The name of the 2-D initializer of one of ``types`` a MatMul multiplies by, else None."""
    weight = node.input[1] if node.op_type == "MatMul" and len(node.input) == 2 else None
    tensor = tensors.by_name.get(weight) if weight else None
    return weight if tensor is not None and len(tensor.dims) == 2 and tensor.data_type in types else None


def _tied_embedding(nodes: list[onnx.NodeProto], quantised: dict[str, tuple[str, str, int, int]], bits: int,
                    block_size: int, new_inits: list[TensorProto]) -> list[onnx.NodeProto]:
    """``Transpose(W) -> Gather`` on a quantised lm_head weight W becomes GatherBlockQuantized on its blocks."""

    def replace(transpose: onnx.NodeProto, gather: onnx.NodeProto) -> list[onnx.NodeProto]:
        blocks_name, scales_name, k, n = quantised[transpose.input[0]]
        shape_name = blocks_name + "_rows_shape"
        new_inits.append(numpy_helper.from_array(np.array([n, k * bits // 8], np.int64), shape_name))
        rows = blocks_name + "_rows"
        return [helper.make_node("Reshape", [blocks_name, shape_name], [rows], name=transpose.name + "_rows"),
                helper.make_node("GatherBlockQuantized", [rows, gather.input[1], scales_name], list(gather.output),
                                 name=gather.name + "BlockQuantized", domain="com.microsoft", bits=bits,
                                 block_size=block_size, gather_axis=0, quantize_axis=1)]

    sites = tied_embedding_sites(nodes, quantised, lambda weight, _: quantised[weight][2] % block_size == 0)
    return rewrite_tied_embeddings(nodes, sites, replace)
