"""The validation gate refuses what would break in a browser: float16 overflow, a destroyed quantisation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper
from safetensors.torch import load_file, save_file

from backend.engines.bundle import BundleError, open_bundle
from devtools import export_testing as testing
from export.__main__ import main
from export.reference import torch_references
from export.validate import validate_graph


@pytest.fixture(scope="module")
def overflow_checkpoint(tmp_path_factory) -> Path:
    """A tied tiny Qwen2 whose logits reach ~1e6: fine in float32, inf in float16."""
    checkpoint = testing.tiny_checkpoint(tmp_path_factory.mktemp("overflow") / "checkpoint",
                                         hidden=32, heads=2, kv_heads=1)
    weights = load_file(checkpoint / "model.safetensors")
    weights["model.norm.weight"] *= 100
    weights["model.embed_tokens.weight"] *= 1e4
    save_file(weights, checkpoint / "model.safetensors", metadata={"format": "pt"})
    return checkpoint


@pytest.fixture(scope="module")
def overflow_bundle(overflow_checkpoint) -> tuple[int, Path]:
    out = overflow_checkpoint.parent / "bundle"
    code = main(["bundle", "--checkpoint", str(overflow_checkpoint), "--out", str(out), "-q",
                 "--dtypes", "fp32,fp16,q4,q4f16", "--default-dtype", "fp16", "--validate-tokens", "8"])
    return code, out


def test_fp16_overflow_is_refused_with_the_reason(overflow_bundle):
    code, out = overflow_bundle
    assert code == 1  # written, without the dtypes that failed
    manifest = json.loads((out / "manifest.json").read_text(),  # strict JSON: the browser parses it too
                          parse_constant=lambda c: pytest.fail(f"manifest.json holds {c}"))
    status = {d: e["status"] for d, e in manifest["dtypes"].items()}
    assert status == {"fp32": "passed", "fp16": "failed", "q4": "passed", "q4f16": "failed"}
    fp16_reason = " ".join(manifest["dtypes"]["fp16"]["reasons"])
    # ONNX Runtime's CPU run of the fp16 graph is clean; the range check is what catches it
    assert "float16" in fp16_reason and "65504" in fp16_reason and "logits" in fp16_reason
    assert "NaN/inf" in " ".join(manifest["dtypes"]["q4f16"]["reasons"])


def test_failed_dtypes_are_left_out_and_never_the_default(overflow_bundle):
    _code, out = overflow_bundle
    assert sorted(p.name for p in (out / "onnx").iterdir()) == ["model.onnx", "model_q4.onnx"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["default_dtype"] == "q4"  # fp16 was asked for, and failed
    assert json.loads((out / "config.json").read_text())["transformers.js_config"] == {"dtype": "q4"}
    assert not any(f["path"].startswith("onnx/model_fp16") for f in manifest["files"])
    with pytest.raises(BundleError, match="fp16 failed the validation gate.*float16"):
        open_bundle(out, "fp16")


def test_tied_lm_head_is_quantised(overflow_bundle):
    _code, out = overflow_bundle
    model = onnx.load(str(out / "onnx" / "model_q4.onnx"))
    inits = {t.name for t in model.graph.initializer}
    assert not [n.name for n in model.graph.node if n.op_type == "MatMul" and n.input[1] in inits]
    lm_head = [n for n in model.graph.node if n.op_type == "MatMulNBits" and n.output[0] == "logits"]
    assert len(lm_head) == 1


def test_destroyed_quantisation_is_refused(tmp_path):
    bundle = testing.tiny_bundle()  # the untied test model, whose every dtype passes as exported
    model = onnx.load(str(bundle.out / "onnx" / "model_q4.onnx"))
    rng = np.random.default_rng(0)
    for tensor in model.graph.initializer:
        if tensor.name.endswith("_scales"):  # MatMulNBits block scales: scramble them
            scales = numpy_helper.to_array(tensor)
            noisy = scales * rng.uniform(-3, 3, scales.shape)
            tensor.CopyFrom(numpy_helper.from_array(noisy.astype(scales.dtype), tensor.name))
    broken = tmp_path / "model_q4.onnx"
    onnx.save_model(model, str(broken))
    prompts = {g["name"]: g["prompt_token_ids"] for g in bundle.manifest["contract"]["golden"]}
    refs = torch_references(testing.bundle_checkpoint(), prompts, new_tokens=8)
    verdict = validate_graph("q4", broken, refs)
    assert not verdict.passed
    assert any("top-1 agreement" in r for r in verdict.reasons), verdict.reasons


def test_nothing_is_written_when_no_dtype_passes(overflow_checkpoint, tmp_path, capsys):
    out = tmp_path / "refused"
    code = main(["bundle", "--checkpoint", str(overflow_checkpoint), "--out", str(out), "-q",
                 "--dtypes", "fp16", "--validate-tokens", "4"])
    assert code == 2
    assert not out.exists() and not list(tmp_path.glob(".refused*"))
    assert "no dtype passed the validation gate" in capsys.readouterr().err
