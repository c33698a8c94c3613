"""Real shapes in the everyday suite: Qwen2.5-0.5B's widths, GQA and full vocabulary, two layers deep.

A random checkpoint with the 0.5B's hidden size (896), 14 query / 2 key-value heads, 4,864-wide MLP,
tied 151,936-row embedding and the real Qwen2.5 tokenizer goes through ``python -m export bundle
--builder genai --gate structural``: fp32 judged against PyTorch, q4 and q8 against their own
dequantised weights. Shape bugs (head dims, KV layout, tied embeddings, file names) fail here, not at 1.5B.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from benchmarks.real_shapes import real_shape_config, write_random_checkpoint
from export.bundle import GOLDEN, BundleConfig, build_bundle
from export.dequantize import dequantized_twin
from export.genai_builder import relocate
from export.reference import graph_references
from export.validate import STRUCTURAL, _Decoder, make_session, validate_graph

pytestmark = pytest.mark.timeout(300)
WIDTHS = real_shape_config("qwen2.5-0.5b", num_hidden_layers=2)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("real-shape")
    checkpoint = write_random_checkpoint(root / "checkpoint", WIDTHS)
    vectors = json.loads(GOLDEN.read_text(encoding="utf-8"))
    golden = root / "golden.json"  # the shortest golden prompt keeps the run under a minute
    golden.write_text(json.dumps([min(vectors, key=lambda v: len(v["prompt"]))]), encoding="utf-8")
    result = build_bundle(BundleConfig(checkpoint=checkpoint, out=root / "bundle", dtypes=("fp32", "q4", "q8"),
                                       golden=golden, validate_tokens=3, builder="genai", gate="structural"))
    return result.out, result.manifest


def test_every_dtype_passes_its_gate_and_the_manifest_says_which(bundle):
    _, manifest = bundle
    assert manifest["validation"]["gate"] == "structural" and manifest["export"]["builder"] == "genai"
    assert {d: e["status"] for d, e in manifest["dtypes"].items()} == {"fp32": "passed", "q4": "passed", "q8": "passed"}
    assert manifest["dtypes"]["fp32"]["validation"]["prompts"][0]["first_divergence"] is None  # PyTorch's tokens
    for dtype in ("q4", "q8"):
        assert manifest["dtypes"][dtype]["validation"]["min_cosine"] >= STRUCTURAL[dtype].min_cosine


def test_q8_is_dynamic_int8_in_standard_ops_with_one_int8_vocabulary_matrix(bundle):
    """q8 is the form onnxruntime-web computes in integers: MatMulInteger, and the tied embedding a plain
    Gather of the lm_head's int8 matrix (no GatherBlockQuantized, which its WASM build lacks)."""
    out, manifest = bundle
    model = onnx.load(str(out / "onnx" / "model_quantized.onnx"), load_external_data=False)
    ops = {n.op_type for n in model.graph.node}
    assert {"MatMulInteger", "DynamicQuantizeLinear", "GroupQueryAttention"} <= ops
    assert not ops & {"MatMul", "MatMulNBits", "GatherBlockQuantized"}
    vocab = [(t.name, t.data_type) for t in model.graph.initializer if 151_936 in t.dims and len(t.dims) == 2]
    assert [dtype for _, dtype in vocab] == [onnx.TensorProto.INT8]  # stored once, in int8
    # 2 layers and the vocabulary at one byte per weight: about a quarter of fp32
    assert manifest["dtypes"]["q8"]["size_bytes"] < 0.3 * manifest["dtypes"]["fp32"]["size_bytes"]


def test_graph_has_gqa_kv_heads_numeric_head_dim_and_last_row_logits(bundle):
    out, _ = bundle
    model = onnx.load(str(out / "onnx" / "model_q4.onnx"), load_external_data=False)
    ops = {n.op_type for n in model.graph.node}
    assert {"GroupQueryAttention", "MatMulNBits", "GatherBlockQuantized"} <= ops
    past = {i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in model.graph.input
            if i.name.startswith("past_key_values.")}
    assert sorted(past) == [f"past_key_values.{i}.{k}" for i in range(2) for k in ("key", "value")]
    assert all(shape[1] == 2 and shape[3] == 64 for shape in past.values())  # 2 KV heads x 64, not 14
    decoder = _Decoder(make_session(out / "onnx" / "model_q4.onnx"))
    outputs = decoder.session.run(["logits"], {"input_ids": np.array([[9707, 11, 1879]], np.int64),
                                               "attention_mask": np.ones((1, 3), np.int64), **decoder.empty_past()})
    assert outputs[0].shape == (1, 1, 151_936)  # the last row only


def test_tied_embedding_is_one_quantised_matrix_and_files_are_named_for_transformers_js(bundle):
    out, manifest = bundle
    q4 = manifest["dtypes"]["q4"]
    assert q4["external_data"] == ["onnx/model_q4.onnx_data"]
    model = onnx.load(str(out / "onnx" / "model_q4.onnx"), load_external_data=False)
    float_vocab = [t.name for t in model.graph.initializer if 151_936 in t.dims and t.data_type == onnx.TensorProto.FLOAT
                   and len(t.dims) == 2 and t.dims[1] == 896]
    assert not float_vocab  # no float32 embedding beside the 4-bit lm_head
    # 2 layers of 4-bit weights plus the 4-bit vocabulary matrix and its scales: far under fp32's
    assert q4["size_bytes"] < 0.2 * manifest["dtypes"]["fp32"]["size_bytes"]
    config = json.loads((out / "config.json").read_text())
    assert config["transformers.js_config"]["use_external_data_format"] == {"model.onnx": 1, "model_q4.onnx": 1,
                                                                           "model_quantized.onnx": 1}


@pytest.mark.parametrize(("dtype", "file", "scales_suffix"), [("q4", "model_q4.onnx", "o_proj.MatMul.weight_scales"),
                                                             ("q8", "model_quantized.onnx", "o_proj.MatMul.weight_scale")])
def test_structural_gate_fails_a_kernel_that_computes_other_weights(bundle, tmp_path, dtype, file, scales_suffix):
    """The twin is made from the shipped weights; a graph whose kernel reads other scales must fail."""
    out, _ = bundle
    graph = out / "onnx" / file
    prompt = {"p": [151644, 872, 198, 9707, 11, 1879, 0, 151645, 198, 151644, 77091, 198]}
    refs = graph_references(dequantized_twin(graph, tmp_path / "twin.onnx"), prompt, 3)
    model = onnx.load(str(graph))
    scales = next(t for t in model.graph.initializer if t.name.endswith(scales_suffix))
    values = numpy_helper.to_array(scales)
    scales.CopyFrom(numpy_helper.from_array(-values[::-1].copy(), scales.name))
    tampered = tmp_path / "tampered.onnx"
    onnx.save_model(model, str(tampered), save_as_external_data=True, location="tampered.onnx_data")
    verdict = validate_graph(dtype, tampered, refs, STRUCTURAL[dtype])
    assert not verdict.passed and any("cosine" in r or "top-1" in r for r in verdict.reasons)
    assert validate_graph(dtype, graph, refs, STRUCTURAL[dtype]).passed


def test_relocated_data_splits_into_chunks_named_as_transformers_js_asks(bundle, tmp_path):
    out, _ = bundle
    saved = relocate(out / "onnx" / "model_q4.onnx", tmp_path / "model_q4.onnx", head_dim=64, chunk_bytes=80_000_000)
    assert len(saved.data_files) >= 2  # 112 MB of weights, the 4-bit vocabulary matrix alone 68 MB
    assert saved.data_files == tuple(["model_q4.onnx_data"] + [f"model_q4.onnx_data_{i}"
                                                               for i in range(1, len(saved.data_files))])
    assert all((tmp_path / n).stat().st_size <= 80_000_000 for n in saved.data_files)
    feed = {"input_ids": np.array([[9707, 11]], np.int64), "attention_mask": np.ones((1, 2), np.int64)}
    shipped, moved = (_Decoder(make_session(p)) for p in (out / "onnx" / "model_q4.onnx", saved.path))
    first = shipped.session.run(["logits"], {**feed, **shipped.empty_past()})[0]
    np.testing.assert_array_equal(first, moved.session.run(["logits"], {**feed, **moved.empty_past()})[0])
