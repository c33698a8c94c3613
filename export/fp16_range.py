"""Does a float16 graph overflow where float16 is really computed (WebGPU, GPUs)?

ONNX Runtime's CPU provider has few float16 kernels: it runs most of an fp16 graph in float32 and
removes the casts in between, so an fp16 graph that gives inf/NaN in a browser's WebGPU can pass a
CPU run cleanly. This check runs the fp32 graph on the golden prompts instead, and reports every
tensor that the fp16 graph keeps in float16 whose values leave float16's range (±65504).
Attention-mask fill values (float32's lowest, below -1e30, or -inf) are not activations: ignored.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto

from export.validate import make_session

logger = logging.getLogger(__name__)

FP16_MAX = 65504.0
MASK_FILL = 1e30
BATCH = 128  # intermediate tensors exposed per run: bounds memory on large models (~1.2 GB at 1.5B)


def float16_tensors(fp16_graph: Path) -> set[str]:
    """Tensors the fp16 graph holds as float16, under their names in the fp32 graph."""
    model = onnx.load(str(fp16_graph), load_external_data=False)
    inferred = onnx.shape_inference.infer_shapes(model)
    names = {vi.name for vi in inferred.graph.value_info if vi.type.tensor_type.elem_type == TensorProto.FLOAT16}
    outputs = {o.name for o in model.graph.output}
    for node in model.graph.node:  # keep_io_types: graph_output_cast_N (float16) -> logits (float32)
        if node.op_type == "Cast" and node.output[0] in outputs and node.input[0] in names:
            names.discard(node.input[0])
            names.add(node.output[0])
    return names


def _peak(values: np.ndarray) -> float:
    """Largest magnitude that is an activation (mask fill values excluded; NaN and +inf count)."""
    if values.size == 0 or not np.issubdtype(values.dtype, np.floating):
        return 0.0
    if np.isnan(values).any() or np.isposinf(values).any():
        return float("inf")
    kept = np.abs(values[(values > -MASK_FILL)])
    return float(kept.max()) if kept.size else 0.0


def overflowing_tensors(fp32_graph: Path, fp16_graph: Path, prompts: list[list[int]],
                        max_tokens: int = 256) -> dict[str, float]:
    """Tensor name -> peak magnitude, for float16 tensors whose fp32 values pass ±65504 on ``prompts``.

    Each prompt is prefilled (up to ``max_tokens`` tokens, enough for the activations' scale).
    """
    wanted = float16_tensors(fp16_graph)
    model = onnx.load(str(fp32_graph), load_external_data=False)
    produced = [name for node in model.graph.node for name in node.output if name in wanted]
    existing = {o.name for o in model.graph.output}
    peaks: dict[str, float] = {}
    for start in range(0, len(produced), BATCH):
        names = produced[start:start + BATCH]
        probe = onnx.ModelProto()
        probe.CopyFrom(model)
        for name in names:
            if name not in existing:
                probe.graph.output.append(onnx.helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
        path = fp32_graph.parent / f".fp16-range-{start}.onnx"  # beside the graph: external data resolves
        onnx.save_model(probe, str(path))
        try:
            session = make_session(path)
        finally:
            path.unlink()
        inputs = {i.name: i for i in session.get_inputs()}
        for ids in prompts:
            ids = ids[:max_tokens]
            feed = {"input_ids": np.asarray([ids], np.int64), "attention_mask": np.ones((1, len(ids)), np.int64)}
            if "position_ids" in inputs:
                feed["position_ids"] = np.arange(len(ids), dtype=np.int64)[None]
            for name, info in inputs.items():
                if name.startswith("past_key_values."):
                    feed[name] = np.zeros((1, info.shape[1], 0, info.shape[3]), np.float32)
            for name, value in zip(names, session.run(names, feed), strict=True):
                peaks[name] = max(peaks.get(name, 0.0), _peak(value))
        del session  # before the next batch's session: two sessions of a 1.5B fp32 graph do not fit
    over = {name: peak for name, peak in peaks.items() if peak > FP16_MAX}
    if over:
        logger.warning("%d float16 tensors leave float16's range on the golden prompts", len(over))
    return dict(sorted(over.items(), key=lambda kv: -kv[1]))
