"""A quantised graph's float twin: every quantised MatMul and GatherBlockQuantized on dequantised weights.

The structural gate (:mod:`export.structural`) compares a quantised graph with this twin: the same
graph, the same quantised weights, computed by plain ``MatMul`` / ``Gather`` in float32. What is left
between the two is the quantised kernels' own arithmetic (int8 activations at ``accuracy_level=4``,
float16 activations in q4f16), so a wrong kernel, packing, scale layout or graph shows up even on
random weights, whose logits carry no signal to compare with PyTorch.

Weights are read one tensor at a time from the source graph's external data and written to the
twin's external data (one file: the twin is a work file, never shipped, so the 2 GB browser limit does
not apply). Only what Alta's exports use is supported: symmetric blocks (no zero-point input, so the
zero point is ``2**(bits-1)``), 4 or 8 bits in uint8, GatherBlockQuantized over axis 0 with blocks
along axis 1; and q8's dynamic int8 (``DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul``, int8
weights with zero point 0 and per-column scales, :mod:`export.int8`), whose twin is ``MatMul(x, W_q *
scale)``. q8's int8 embedding (a Gather of the int8 matrix times its row scale) is float arithmetic
already and stays as it is.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import BinaryIO

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

logger = logging.getLogger(__name__)

_ROWS = 8192  # rows dequantised at a time (bounds the float32 scratch)


class DequantizeError(RuntimeError):
    """The graph uses a quantised form this module does not rebuild in float."""


class _Tensors:
    """Initializers of a graph whose data may be external: read one at a time."""

    def __init__(self, model: onnx.ModelProto, base: Path) -> None:
        self.base = base
        self.by_name = {t.name: t for t in model.graph.initializer}
        self._files: dict[str, BinaryIO] = {}

    def raw(self, tensor: TensorProto) -> bytes:
        if tensor.data_location != TensorProto.EXTERNAL:
            return numpy_helper.to_array(tensor).tobytes()
        info = {e.key: e.value for e in tensor.external_data}
        handle = self._files.get(info["location"])
        if handle is None:
            handle = self._files[info["location"]] = (self.base / info["location"]).open("rb")
        handle.seek(int(info.get("offset", 0)))
        return handle.read(int(info["length"]))

    def array(self, name: str) -> np.ndarray:
        tensor = self.by_name[name]
        dtype = helper.tensor_dtype_to_np_dtype(tensor.data_type)
        return np.frombuffer(self.raw(tensor), dtype=dtype).reshape(tuple(tensor.dims))

    def close(self) -> None:
        for handle in self._files.values():
            handle.close()


def _unpack(packed: np.ndarray, bits: int, width: int) -> np.ndarray:
    """uint8 rows of packed ``bits``-bit values (low nibble first) -> float32 rows of ``width`` values."""
    if bits == 8:
        return packed.astype(np.float32)[:, :width]
    low, high = packed & 0x0F, packed >> 4
    values = np.stack([low, high], axis=-1).reshape(packed.shape[0], -1)
    return values[:, :width].astype(np.float32)


def dequantize_rows(packed: np.ndarray, scales: np.ndarray, bits: int, block_size: int, width: int) -> np.ndarray:
    """Rows of symmetric blocks -> float32 ``(rows, width)``: ``(q - 2**(bits-1)) * scale`` per block."""
    rows = packed.reshape(packed.shape[0], -1)
    scale = scales.reshape(scales.shape[0], -1).astype(np.float32)
    out = np.empty((rows.shape[0], width), np.float32)
    for start in range(0, rows.shape[0], _ROWS):
        q = _unpack(rows[start:start + _ROWS], bits, scale.shape[1] * block_size)
        q -= float(1 << (bits - 1))
        q = q.reshape(q.shape[0], scale.shape[1], block_size) * scale[start:start + _ROWS, :, None]
        out[start:start + _ROWS] = q.reshape(q.shape[0], -1)[:, :width]
    return out


class _Writer:
    """Appends tensors to one external data file and makes their initializers."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset = path, 0
        self.handle = path.open("wb")

    def add(self, name: str, data_type: int, dims: list[int], chunks) -> TensorProto:
        pad = (-self.offset) % 64
        self.handle.write(b"\0" * pad)
        self.offset += pad
        start = self.offset
        for chunk in chunks:
            self.handle.write(chunk)
            self.offset += len(chunk)
        tensor = TensorProto(name=name, data_type=data_type, dims=dims, data_location=TensorProto.EXTERNAL)
        for key, value in (("location", self.path.name), ("offset", str(start)), ("length", str(self.offset - start))):
            entry = tensor.external_data.add()
            entry.key, entry.value = key, value
        return tensor

    def close(self) -> None:
        self.handle.close()


def _consumers(nodes: list[onnx.NodeProto]) -> dict[str, list[onnx.NodeProto]]:
    """Value name -> the nodes that read it."""
    readers: dict[str, list[onnx.NodeProto]] = {}
    for node in nodes:
        for name in node.input:
            readers.setdefault(name, []).append(node)
    return readers


def _carried(graph: onnx.GraphProto, nodes: list[onnx.NodeProto], tensors: _Tensors, writer: _Writer,
             skip: frozenset[str] | set[str] = frozenset()) -> list[TensorProto]:
    """The source graph's initializers that ``nodes`` (or the graph's outputs) still read, external data
    copied into ``writer``'s file; names in ``skip`` are replaced by the caller."""
    used = {name for n in nodes for name in n.input} | {o.name for o in graph.output}
    carried = []
    for tensor in graph.initializer:
        if tensor.name not in used or tensor.name in skip:
            continue
        if tensor.data_location == TensorProto.EXTERNAL:
            carried.append(writer.add(tensor.name, tensor.data_type, list(tensor.dims), [tensors.raw(tensor)]))
        else:
            carried.append(tensor)
    return carried


def _replace_contents(graph: onnx.GraphProto, nodes: list[onnx.NodeProto], initializers: list[TensorProto]) -> None:
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.initializer[:]
    graph.initializer.extend(initializers)


def _attrs(node: onnx.NodeProto) -> dict:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _transposed_chunks(weight: np.ndarray, columns: int = 1024):
    """``weight.T`` in C order, a band of rows at a time (no full transposed copy)."""
    for start in range(0, weight.shape[1], columns):
        yield np.ascontiguousarray(weight[:, start:start + columns].T).tobytes()


def dequantized_twin(src: Path, dst: Path) -> Path:
    """Write ``dst`` (+ ``dst.name + '_data'``): ``src`` with its quantised ops replaced by float ones.

    Returns ``dst``. Raises :class:`DequantizeError` for forms it does not rebuild.
    """
    model = onnx.load(str(src), load_external_data=False)
    graph = model.graph
    tensors = _Tensors(model, src.parent)
    producer = {out: n for n in graph.node for out in n.output}
    writer = _Writer(dst.parent / (dst.name + "_data"))
    new_inits: dict[str, TensorProto] = {}
    new_nodes: list[onnx.NodeProto] = []
    replaced = 0
    try:
        integer, superseded = _matmul_integer_chains(list(graph.node), producer, tensors)
        for node in graph.node:
            if id(node) in superseded:  # a chain's Cast and output Mul: its twin MatMul writes the output
                continue
            if id(node) in integer:
                new_nodes += _matmul_integer(integer[id(node)], tensors, writer, new_inits)
                replaced += 1
            elif node.op_type == "MatMulNBits":
                new_nodes += _matmul_nbits(node, tensors, writer, new_inits)
                replaced += 1
            elif node.op_type == "GatherBlockQuantized":
                new_nodes += _gather_block_quantized(node, tensors, producer, writer, new_inits)
                replaced += 1
            else:
                new_nodes.append(node)
        kept = _live(new_nodes, {o.name for o in graph.output})
        initializers = _carried(graph, kept, tensors, writer, skip=set(new_inits)) + list(new_inits.values())
    finally:
        writer.close()
        tensors.close()
    _replace_contents(graph, kept, initializers)
    onnx.save_model(model, str(dst))
    logger.info("dequantised twin of %s: %d quantised ops rebuilt in float", src.name, replaced)
    return dst


def _live(nodes: list[onnx.NodeProto], outputs: set[str]) -> list[onnx.NodeProto]:
    """``nodes`` without those whose outputs nothing reads any more (the quantised forms' leftovers)."""
    while True:
        used = {name for n in nodes for name in n.input} | outputs
        live = [n for n in nodes if any(o in used for o in n.output)]
        if len(live) == len(nodes):
            return live
        nodes = live


def _matmul_integer_chains(nodes: list[onnx.NodeProto], producer: dict[str, onnx.NodeProto],
                           tensors: _Tensors) -> tuple[dict[int, tuple], set[int]]:
    """q8's chains: ``id(MatMulInteger)`` -> (node, float input, int8 weight, weight scales, output), and
    the ids of the chains' Cast and output Mul nodes, which the twin drops."""
    consumers = _consumers(nodes)
    chains, superseded = {}, set()
    for node in nodes:
        if node.op_type != "MatMulInteger":
            continue
        quantize = producer.get(node.input[0])
        weight = tensors.by_name.get(node.input[1])
        cast = consumers.get(node.output[0], [])
        mul = consumers.get(cast[0].output[0], []) if len(cast) == 1 and cast[0].op_type == "Cast" else []
        if (quantize is None or quantize.op_type != "DynamicQuantizeLinear" or weight is None
                or weight.data_type != TensorProto.INT8 or len(mul) != 1 or mul[0].op_type != "Mul"):
            raise DequantizeError(f"{node.name}: not the DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul "
                                  "chain with an int8 weight that export.int8 writes")
        zero_point = tensors.by_name.get(node.input[3]) if len(node.input) > 3 else None
        if zero_point is not None and np.any(tensors.array(zero_point.name)):
            raise DequantizeError(f"{node.name}: int8 weights with a non-zero zero point are not rebuilt")
        scale_mul = producer.get(next(i for i in mul[0].input if i != cast[0].output[0]))
        scales = [i for i in (scale_mul.input if scale_mul is not None and scale_mul.op_type == "Mul" else [])
                  if i in tensors.by_name]
        if len(scales) != 1:
            raise DequantizeError(f"{node.name}: its weight scales are not an initializer")
        chains[id(node)] = (node, quantize.input[0], node.input[1], scales[0], mul[0].output[0])
        superseded |= {id(cast[0]), id(mul[0])}
    return chains, superseded


def _matmul_integer(chain: tuple, tensors: _Tensors, writer: _Writer, new_inits) -> list[onnx.NodeProto]:
    node, x, weight, scales, out = chain
    weight_name = weight + "_dequantized"
    if weight_name not in new_inits:
        q = tensors.array(weight)
        scale = tensors.array(scales).astype(np.float32)
        new_inits[weight_name] = writer.add(
            weight_name, TensorProto.FLOAT, list(q.shape),
            (np.ascontiguousarray(q[i:i + _ROWS].astype(np.float32) * scale).tobytes() for i in range(0, q.shape[0], _ROWS)))
    return [helper.make_node("MatMul", [x, weight_name], [out], name=node.name + "/twin")]


def _float_type_of(scales: TensorProto) -> int:
    if scales.data_type not in (TensorProto.FLOAT, TensorProto.FLOAT16):
        raise DequantizeError(f"scales {scales.name!r} have ONNX type {scales.data_type}; expected float or float16")
    return scales.data_type


def _matmul_nbits(node, tensors: _Tensors, writer: _Writer, new_inits) -> list[onnx.NodeProto]:
    attrs = _attrs(node)
    inputs = list(node.input) + [""] * (6 - len(node.input))
    if inputs[3] or inputs[4]:
        raise DequantizeError(f"{node.name}: zero points / g_idx are not used by Alta's symmetric export")
    k, n, bits, block = attrs["K"], attrs["N"], attrs.get("bits", 4), attrs["block_size"]
    weight_name = inputs[1] + "_dequantized"
    if weight_name not in new_inits:
        scales = tensors.by_name[inputs[2]]
        weight = dequantize_rows(tensors.array(inputs[1]), tensors.array(inputs[2]), bits, block, k)  # (N, K)
        new_inits[weight_name] = writer.add(weight_name, TensorProto.FLOAT, [k, n], _transposed_chunks(weight))
        del weight
        act_type = _float_type_of(scales)
    else:
        act_type = _float_type_of(tensors.by_name[inputs[2]])
    nodes, x, out = [], inputs[0], node.output[0]
    if act_type == TensorProto.FLOAT16:  # the float twin multiplies in float32
        nodes.append(helper.make_node("Cast", [x], [node.name + "/twin_f32"], name=node.name + "/twin_cast_in",
                                      to=TensorProto.FLOAT))
        x = node.name + "/twin_f32"
    product = out + "/twin_matmul" if (inputs[5] or act_type == TensorProto.FLOAT16) else out
    nodes.append(helper.make_node("MatMul", [x, weight_name], [product], name=node.name + "/twin"))
    if act_type == TensorProto.FLOAT16:
        cast_out = out if not inputs[5] else out + "/twin_cast"
        nodes.append(helper.make_node("Cast", [product], [cast_out], name=node.name + "/twin_cast_out",
                                      to=TensorProto.FLOAT16))
        product = cast_out
    if inputs[5]:
        nodes.append(helper.make_node("Add", [product, inputs[5]], [out], name=node.name + "/twin_bias"))
    return nodes


def _gather_block_quantized(node, tensors: _Tensors, producer, writer: _Writer, new_inits) -> list[onnx.NodeProto]:
    attrs = _attrs(node)
    if attrs.get("gather_axis", 0) != 0 or attrs.get("quantize_axis", 1) != 1 or len(node.input) > 3 and node.input[3]:
        raise DequantizeError(f"{node.name}: only gather_axis=0, quantize_axis=1, symmetric blocks are rebuilt")
    data, indices, scales_name = node.input[:3]
    source = data
    reshape = producer.get(data)
    if data not in tensors.by_name and reshape is not None and reshape.op_type == "Reshape":
        source = reshape.input[0]
    if source not in tensors.by_name:
        raise DequantizeError(f"{node.name}: its data {data!r} is not an initializer (or a Reshape of one)")
    bits, block = attrs.get("bits", 4), attrs["block_size"]
    scales = tensors.by_name[scales_name]
    table_scales = tensors.array(scales_name)
    rows = table_scales.shape[0]
    width = table_scales.reshape(rows, -1).shape[1] * block
    table = dequantize_rows(tensors.array(source).reshape(rows, -1), table_scales, bits, block, width)
    table_name = source + "_table_dequantized"
    np_type = np.float16 if scales.data_type == TensorProto.FLOAT16 else np.float32
    new_inits[table_name] = writer.add(table_name, scales.data_type, list(table.shape),
                                       (table[i:i + _ROWS].astype(np_type).tobytes() for i in range(0, rows, _ROWS)))
    del table
    return [helper.make_node("Gather", [table_name, indices], list(node.output), name=node.name + "/twin", axis=0)]
