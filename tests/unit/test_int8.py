"""export.int8: streaming dynamic int8 (q8), the same arithmetic as ORT's quantize_dynamic, and its twin."""

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from onnx import TensorProto, helper, numpy_helper

from export.dequantize import dequantized_twin
from export.int8 import quantize_columns, quantize_graph_int8

HIDDEN, VOCAB = 32, 64


def tied_graph(path):
    """ids -> Gather(Transpose(W)) -> MatMul(up) -> MatMul(W) -> logits: a tied embedding and one layer."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal((HIDDEN, VOCAB)).astype(np.float32)
    up = (rng.standard_normal((HIDDEN, HIDDEN)) / np.sqrt(HIDDEN)).astype(np.float32)
    nodes = [helper.make_node("Transpose", ["lm_head.weight"], ["table"], perm=[1, 0]),
             helper.make_node("Gather", ["table", "ids"], ["hidden"], axis=0),
             helper.make_node("MatMul", ["hidden", "up.weight"], ["mixed"], name="up/MatMul"),
             helper.make_node("MatMul", ["mixed", "lm_head.weight"], ["logits"], name="lm_head/MatMul")]
    graph = helper.make_graph(nodes, "tied", [helper.make_tensor_value_info("ids", TensorProto.INT64, [1, None])],
                              [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, [1, None, HIDDEN]),
                               helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, None, VOCAB])],
                              [numpy_helper.from_array(w, "lm_head.weight"), numpy_helper.from_array(up, "up.weight")])
    onnx.save_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=10), str(path))
    return w, up


def run(path, ids):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"ids": ids})


IDS = np.array([[3, 17, 63, 0]], np.int64)


@settings(max_examples=40, deadline=None)
@given(arrays(np.float32, st.tuples(st.integers(1, 40), st.integers(1, 12)),
              elements=st.floats(-1e3, 1e3, width=32)))
def test_columns_round_trip_within_half_a_step(weight):
    q, scales = quantize_columns(weight)
    assert q.dtype == np.int8 and q.min() >= -127 and scales.shape == (weight.shape[1],)
    # symmetric: each column's largest magnitude lands on +-127 (or the column is zero)
    nonzero = np.abs(weight).max(axis=0) > 0
    assert np.all(np.abs(q).max(axis=0)[nonzero] == 127)
    assert np.all(np.abs(q.astype(np.float32) * scales - weight) <= scales / 2 * (1 + 1e-5) + 1e-30)


def test_weights_are_those_quantize_dynamic_writes(tmp_path):
    """Alta's streaming quantiser and ORT's quantize_dynamic(per_channel, QInt8) give the same int8 matrix."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    w, _ = tied_graph(tmp_path / "float.onnx")
    quantize_dynamic(tmp_path / "float.onnx", tmp_path / "ort.onnx", per_channel=True, reduce_range=False,
                     weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"],
                     extra_options={"MatMulConstBOnly": True})
    theirs = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(tmp_path / "ort.onnx")).graph.initializer}
    ours, scales = quantize_columns(w)
    np.testing.assert_array_equal(ours, theirs["lm_head.weight_quantized"])
    np.testing.assert_allclose(scales, theirs["lm_head.weight_scale"], rtol=1e-6)


@pytest.mark.parametrize("embedding", ["quantised", "float"])
def test_graph_computes_in_int8_with_either_embedding(tmp_path, embedding):
    w, up = tied_graph(tmp_path / "float.onnx")
    out = tmp_path / embedding / "model.onnx"
    out.parent.mkdir()
    assert quantize_graph_int8(tmp_path / "float.onnx", out, embedding=embedding) == 2
    model = onnx.load(str(out), load_external_data=False)
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("MatMulInteger") == 2 and "MatMul" not in ops
    assert ops.count("DynamicQuantizeLinear") == 2 and not any(o.domain for o in model.opset_import)  # standard ops
    float_vocab = [t.name for t in model.graph.initializer if t.data_type == TensorProto.FLOAT and len(t.dims) == 2]
    assert float_vocab == ([] if embedding == "quantised" else ["lm_head.weight"])
    hidden, logits = run(out, IDS)
    exact = w.T[IDS[0]][None]
    q, scales = quantize_columns(w)
    if embedding == "float":
        np.testing.assert_array_equal(hidden, exact)
    else:  # the lm_head's own int8 rows times their scales, exactly
        np.testing.assert_array_equal(hidden, (q.T[IDS[0]].astype(np.float32) * scales[IDS[0], None])[None])
    reference = (exact @ up) @ w
    cos = (logits * reference).sum() / (np.linalg.norm(logits) * np.linalg.norm(reference))
    assert cos > 0.995


def test_twin_is_float_matmuls_on_the_int8_weights(tmp_path):
    w, up = tied_graph(tmp_path / "float.onnx")
    quantize_graph_int8(tmp_path / "float.onnx", tmp_path / "model.onnx")
    twin = dequantized_twin(tmp_path / "model.onnx", tmp_path / "twin.onnx")
    ops = [n.op_type for n in onnx.load(str(twin), load_external_data=False).graph.node]
    assert ops.count("MatMul") == 2
    assert "MatMulInteger" not in ops and "DynamicQuantizeLinear" not in ops
    (q_w, s_w), (q_up, s_up) = quantize_columns(w), quantize_columns(up)
    w_deq, up_deq = q_w.astype(np.float32) * s_w, q_up.astype(np.float32) * s_up
    hidden, logits = run(twin, IDS)
    np.testing.assert_allclose(logits, (hidden @ up_deq) @ w_deq, rtol=1e-5, atol=1e-4)
    # and the int8 graph sits within its activations' rounding of its twin
    _, quantised = run(tmp_path / "model.onnx", IDS)
    assert np.abs(quantised - logits).max() < 0.05 * np.abs(logits).max()


def test_twin_refuses_a_chain_it_does_not_know(tmp_path):
    tied_graph(tmp_path / "float.onnx")
    quantize_graph_int8(tmp_path / "float.onnx", tmp_path / "model.onnx", embedding="float")
    model = onnx.load(str(tmp_path / "model.onnx"))
    zero_point = next(t for t in model.graph.initializer if t.name == "up.weight_zero_point")
    zero_point.CopyFrom(numpy_helper.from_array(np.full(HIDDEN, 3, np.int8), zero_point.name))
    onnx.save_model(model, str(tmp_path / "asym.onnx"))
    from export.dequantize import DequantizeError

    with pytest.raises(DequantizeError, match="zero point"):
        dequantized_twin(tmp_path / "asym.onnx", tmp_path / "twin.onnx")
