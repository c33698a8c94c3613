"""export.nbits: the tied embedding quantised (GatherBlockQuantized, CPU) or kept float (the browser's WASM)."""

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from export.nbits import quantize_graph

HIDDEN, VOCAB = 32, 64


def tied_graph(path):
    """ids -> Gather(Transpose(W)) -> MatMul(W) -> logits: Qwen's tied embedding as the builder writes it."""
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((HIDDEN, VOCAB)).astype(np.float32), "lm_head.weight")
    nodes = [helper.make_node("Transpose", ["lm_head.weight"], ["table"], perm=[1, 0]),
             helper.make_node("Gather", ["table", "ids"], ["hidden"], axis=0),
             helper.make_node("MatMul", ["hidden", "lm_head.weight"], ["logits"])]
    graph = helper.make_graph(nodes, "tied", [helper.make_tensor_value_info("ids", TensorProto.INT64, [1, None])],
                              [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, [1, None, HIDDEN]),
                               helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, None, VOCAB])], [w])
    onnx.save_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=10), str(path))
    return numpy_helper.to_array(w)


def run(path, ids):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"ids": ids})


@pytest.mark.parametrize(("embedding", "gather_op"), [("quantised", "GatherBlockQuantized"), ("float", "Gather")])
def test_embedding_modes(tmp_path, embedding, gather_op):
    w = tied_graph(tmp_path / "float.onnx")
    out = tmp_path / embedding / "model.onnx"
    out.parent.mkdir()
    assert quantize_graph(tmp_path / "float.onnx", out, bits=4, block_size=32, embedding=embedding) == 1
    model = onnx.load(str(out), load_external_data=False)
    ops = [n.op_type for n in model.graph.node]
    assert gather_op in ops and "MatMulNBits" in ops and "MatMul" not in ops
    floats = [t.name for t in model.graph.initializer if t.data_type == TensorProto.FLOAT and list(t.dims) == [HIDDEN, VOCAB]]
    assert floats == ([] if embedding == "quantised" else ["lm_head.weight"])  # float mode: the Gather's matrix only
    ids = np.array([[3, 17, 63]], np.int64)
    hidden, logits = run(out, ids)
    exact = w.T[ids[0]][None]
    if embedding == "float":
        np.testing.assert_array_equal(hidden, exact)  # the float rows themselves
    else:
        assert np.abs(hidden - exact).max() < 0.25 * np.abs(exact).max()  # 4-bit rows
    reference = exact @ w
    cos = (logits * reference).sum() / (np.linalg.norm(logits) * np.linalg.norm(reference))
    assert cos > 0.98


def test_unknown_embedding_mode_is_refused(tmp_path):
    tied_graph(tmp_path / "float.onnx")
    with pytest.raises(ValueError, match="embedding must be one of"):
        quantize_graph(tmp_path / "float.onnx", tmp_path / "x.onnx", embedding="int2")
