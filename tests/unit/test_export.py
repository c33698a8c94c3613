"""The exporter on a tiny random Qwen2: every dtype, the Transformers.js layout, the manifest, PyTorch parity."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from tokenizers import Tokenizer

from devtools import export_testing as testing
from devtools.qwen_tokenizer import IM_END
from export.__main__ import parse_thresholds
from export.bundle import BundleConfig, BundleResult, summary_table
from export.graph_files import data_file_name, external_locations, save_graph
from export.layout import GRAPH_FILES
from export.manifest import checkpoint_digest, sha256_file
from export.onnx_export import kv_names
from export.validate import thresholds_for

GOLDEN = json.loads((Path(__file__).resolve().parents[2] / "models/contract/golden.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def bundle() -> BundleResult:
    return testing.tiny_bundle()


# How long an export takes is a benchmark's figure (benchmarks/export_bench.py), not a test's bound.
def test_every_dtype_exports_and_passes(bundle):
    result = bundle
    assert {d: o.passed for d, o in result.outcomes.items()} == dict.fromkeys(testing.ALL_DTYPES, True)
    assert result.default_dtype == "q4"


def test_bundle_has_exactly_the_files_transformers_js_looks_for(bundle):
    files = {p.relative_to(bundle.out).as_posix() for p in bundle.out.rglob("*") if p.is_file()}
    graphs = {f"onnx/{name}" for name in GRAPH_FILES.values()}
    assert files == ({"config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                      "manifest.json"} | graphs | {g + "_data" for g in graphs})
    config = json.loads((bundle.out / "config.json").read_text())
    assert config["transformers.js_config"] == {
        "dtype": "q4", "use_external_data_format": {name: 1 for name in GRAPH_FILES.values()}}
    tok_config = json.loads((bundle.out / "tokenizer_config.json").read_text())
    assert "<|im_start|>" in tok_config["chat_template"]
    assert json.loads((bundle.out / "generation_config.json").read_text())["eos_token_id"] == IM_END  # <|im_end|>


def test_external_data_location_inside_each_graph_is_its_file_name(bundle):
    for name in GRAPH_FILES.values():
        graph = bundle.out / "onnx" / name
        assert external_locations(graph) == [name + "_data"]


def test_graphs_have_past_inputs_and_present_outputs_for_every_layer(bundle):
    past, present = kv_names(testing.TEST_SPEC.layers)
    for name in GRAPH_FILES.values():
        model = onnx.load(str(bundle.out / "onnx" / name), load_external_data=False)
        assert set(past) <= {i.name for i in model.graph.input}, name
        assert set(present) <= {o.name for o in model.graph.output}, name
        types = {i.name: i.type.tensor_type.elem_type for i in model.graph.input}
        assert types[past[0]] == onnx.TensorProto.FLOAT, f"{name}: keep_io_types keeps the cache float32"


def test_q4_graphs_quantise_every_matmul_weight(bundle):
    for dtype in ("q4", "q4f16"):
        model = onnx.load(str(bundle.out / "onnx" / GRAPH_FILES[dtype]), load_external_data=False)
        inits = {t.name for t in model.graph.initializer}
        assert not [n.name for n in model.graph.node if n.op_type == "MatMul" and n.input[1] in inits]
        # 7 projections per layer plus the lm_head
        assert sum(n.op_type == "MatMulNBits" for n in model.graph.node) == 7 * testing.TEST_SPEC.layers + 1
        attrs = {a.name: a.i for n in model.graph.node if n.op_type == "MatMulNBits" for a in n.attribute}
        assert attrs["block_size"] == 32 and attrs["bits"] == 4 and attrs["accuracy_level"] == 4


def test_manifest_lists_every_file_with_size_and_sha256(bundle):
    manifest = json.loads((bundle.out / "manifest.json").read_text())
    listed = {f["path"]: f for f in manifest["files"]}
    on_disk = {p.relative_to(bundle.out).as_posix() for p in bundle.out.rglob("*") if p.is_file()} - {"manifest.json"}
    assert set(listed) == on_disk
    for rel, entry in listed.items():
        assert entry["size"] == (bundle.out / rel).stat().st_size
        assert entry["sha256"] == sha256_file(bundle.out / rel)
    assert manifest["source"]["sha256"] == checkpoint_digest(testing.bundle_checkpoint())["sha256"]
    assert {"torch", "transformers", "optimum-onnx", "onnx", "onnxruntime", "tokenizers"} <= set(manifest["tools"])
    for dtype, entry in manifest["dtypes"].items():
        assert entry["status"] == "passed"
        assert entry["external_data"] == [f"onnx/{GRAPH_FILES[dtype]}_data"]
        assert entry["validation"]["thresholds"] == vars(thresholds_for(dtype))
        assert len(entry["validation"]["prompts"]) == len(GOLDEN)
    tokenizer = Tokenizer.from_file(str(bundle.out / "tokenizer.json"))
    assert [g["prompt_token_ids"] for g in manifest["contract"]["golden"]] == [
        tokenizer.encode(v["prompt"], add_special_tokens=False).ids for v in GOLDEN]
    # q4 at least halves what it quantises: every weight but the embedding, which the input Gather keeps in
    # float32 (at Qwen2.5's 151,936 rows that is most of a tiny model, and 0.5B's q4 keeps it too)
    embedding = testing.TEST_SPEC.vocab_rows * testing.TEST_SPEC.hidden * 4
    fp32, q4 = manifest["dtypes"]["fp32"]["size_bytes"], manifest["dtypes"]["q4"]["size_bytes"]
    assert (q4 - embedding) / (fp32 - embedding) < 0.5


def test_fp32_greedy_equals_pytorch_for_32_tokens(bundle):
    """transformers' own generate() against an ORT loop written separately from the exporter's."""
    import torch
    from transformers import AutoModelForCausalLM

    from backend.engines.bundle import open_bundle
    from backend.engines.onnx import OnnxEngine

    model = AutoModelForCausalLM.from_pretrained(testing.bundle_checkpoint()).eval()
    engine = OnnxEngine(open_bundle(bundle.out, "fp32"))
    tokenizer = Tokenizer.from_file(str(bundle.out / "tokenizer.json"))
    for vector in GOLDEN:
        ids = tokenizer.encode(vector["prompt"], add_special_tokens=False).ids
        with torch.inference_mode():
            out = model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                                 max_new_tokens=32, min_new_tokens=32, do_sample=False, pad_token_id=0)
        expected = out[0, len(ids):].tolist()
        assert len(expected) == 32
        assert engine.generate_ids(ids, max_new_tokens=32, stop_token_ids=()) == expected, vector["name"]


def test_external_data_splits_into_chunks_transformers_js_can_name(bundle, tmp_path):
    """A graph over the per-file limit goes into model.onnx_data, model.onnx_data_1, ... and still runs."""
    source = bundle.out / "onnx" / "model.onnx"
    graph = onnx.load(str(source))
    # one tensor never splits: the limit just over the largest (the 151,936-row embedding), so the rest spills over
    chunk = max(onnx.numpy_helper.to_array(t).nbytes for t in graph.graph.initializer) + 1_000
    saved = save_graph(graph, tmp_path / "model.onnx", "always", chunk_bytes=chunk)
    assert len(saved.data_files) > 1
    assert list(saved.data_files) == [data_file_name("model.onnx", i) for i in range(len(saved.data_files))]
    assert saved.data_files[:2] == ("model.onnx_data", "model.onnx_data_1")
    assert external_locations(saved.path) == list(saved.data_files)
    assert all(p.stat().st_size <= chunk for p in saved.files[1:])

    def first_logits(path: Path) -> np.ndarray:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        feed = {"input_ids": np.array([[1, 5, 9]], np.int64), "attention_mask": np.ones((1, 3), np.int64),
                "position_ids": np.arange(3, dtype=np.int64)[None]}
        for i in session.get_inputs():
            if i.name.startswith("past_key_values."):
                feed[i.name] = np.zeros((1, i.shape[1], 0, i.shape[3]), np.float32)
        return session.run(["logits"], feed)[0]

    np.testing.assert_array_equal(first_logits(saved.path), first_logits(source))


def test_summary_table_has_a_line_per_dtype(bundle):
    table = summary_table(bundle)
    for dtype in testing.ALL_DTYPES:
        assert any(line.startswith(dtype + " ") for line in table.splitlines())
    assert "passed (default)" in table and "FAILED" not in table


def test_threshold_overrides_are_checked():
    assert parse_thresholds(["q4.min_top1=0.7"]) == {"q4": {"min_top1": 0.7}}
    assert thresholds_for("q4", {"q4": {"min_top1": 0.7}}).min_top1 == 0.7
    with pytest.raises(ValueError, match="DTYPE.FIELD=VALUE"):
        parse_thresholds(["q4=0.7"])
    with pytest.raises(ValueError, match="unknown threshold fields"):
        BundleConfig(checkpoint=Path("x"), out=Path("y"), thresholds={"q4": {"top1": 0.7}})
    with pytest.raises(ValueError, match="unknown dtypes"):
        BundleConfig(checkpoint=Path("x"), out=Path("y"), dtypes=("int3",))
