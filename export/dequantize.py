"""A quantised graph's float twin: every MatMulNBits and GatherBlockQuantized on its dequantised weights.

The structural gate (:mod:`export.structural`) compares a quantised graph with this twin: the same
graph, the same quantised weights, computed by plain ``MatMul`` / ``Gather`` in float32. What is left
between the two is the quantised kernels' own arithmetic (int8 activations at ``accuracy_level=4``,
float16 activations in q4f16), so a wrong kernel, packing, scale layout or graph shows up even on
random weights, whose logits carry no signal to compare with PyTorch.

Weights are read one tensor at a time from the source graph's external data and written to the
twin's external data (one file: the twin is a work file, never shipped, so the 2 GB browser limit does
not apply). Only what Alta's exports use is supported: symmetric blocks (no zero-point input, so the
zero point is ``2**(bits-1)``), 4 or 8 bits in uint8, GatherBlockQuantized over axis 0 with blocks
along axis 1.
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
        for node in graph.node:
            if node.op_type == "MatMulNBits":
                new_nodes += _matmul_nbits(node, tensors, writer, new_inits)
                replaced += 1
            elif node.op_type == "GatherBlockQuantized":
                new_nodes += _gather_block_quantized(node, tensors, producer, writer, new_inits)
                replaced += 1
            else:
                new_nodes.append(node)
        used = {name for n in new_nodes for name in n.input} | {o.name for o in graph.output}
        kept = [n for n in new_nodes if n.op_type != "Reshape" or any(o in used for o in n.output)]
        used = {name for n in kept for name in n.input} | {o.name for o in graph.output}
        initializers = []
        for tensor in graph.initializer:
            if tensor.name not in used or tensor.name in new_inits:
                continue
            if tensor.data_location == TensorProto.EXTERNAL:
                initializers.append(writer.add(tensor.name, tensor.data_type, list(tensor.dims), [tensors.raw(tensor)]))
            else:
                initializers.append(tensor)
        initializers += list(new_inits.values())
    finally:
        writer.close()
        tensors.close()
    del graph.node[:]
    graph.node.extend(kept)
    del graph.initializer[:]
    graph.initializer.extend(initializers)
    onnx.save_model(model, str(dst))
    logger.info("dequantised twin of %s: %d quantised ops rebuilt in float", src.name, replaced)
    return dst


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
