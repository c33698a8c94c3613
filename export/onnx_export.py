"""Checkpoint -> fp32 ONNX graph with past key values (optimum-onnx, ``text-generation-with-past``).

The graph is checked for the inputs and outputs a KV-cached decode loop needs, for every layer:
``input_ids``, ``attention_mask``, ``past_key_values.{i}.key|value`` in and ``logits``,
``present.{i}.key|value`` out. Without them every token would recompute the whole prompt.
"""

from __future__ import annotations

import json
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import onnx

logger = logging.getLogger(__name__)

TASK = "text-generation-with-past"


class ExportError(RuntimeError):
    """The checkpoint could not be turned into a usable ONNX graph."""


@dataclass(frozen=True)
class CheckpointInfo:
    """What the export needs to know about a checkpoint, read from its config.json."""

    path: Path
    model_type: str
    num_layers: int
    num_kv_heads: int
    head_dim: int
    vocab_size: int
    tie_word_embeddings: bool

    @classmethod
    def read(cls, checkpoint: Path) -> CheckpointInfo:
        config_path = checkpoint / "config.json"
        if not config_path.is_file():
            raise ExportError(f"{checkpoint} has no config.json: pass a Hugging Face checkpoint directory "
                              "(adapters merged onto the full-precision base, see the training issue)")
        config = json.loads(config_path.read_text(encoding="utf-8"))
        heads = config["num_attention_heads"]
        return cls(
            path=checkpoint,
            model_type=config.get("model_type", "?"),
            num_layers=config["num_hidden_layers"],
            num_kv_heads=config.get("num_key_value_heads", heads),
            head_dim=config.get("head_dim") or config["hidden_size"] // heads,
            vocab_size=config["vocab_size"],
            tie_word_embeddings=bool(config.get("tie_word_embeddings", False)),
        )


def export_fp32(checkpoint: Path, work_dir: Path, opset: int | None = None) -> Path:
    """Export ``checkpoint`` to ``work_dir/model.onnx`` (weights in ``model.onnx_data`` when large)."""
    from optimum.exporters.onnx import main_export  # heavy import: only when exporting
    from torch.jit import TracerWarning
    from transformers.utils import logging as hf_logging

    info = CheckpointInfo.read(checkpoint)
    if info.model_type not in {"qwen2", "qwen3", "llama", "mistral"}:
        logger.warning("model type %r was never taken through this path; the checks below decide", info.model_type)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", TracerWarning)
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("ignore", DeprecationWarning)  # torch's note on its TorchScript exporter
            main_export(str(checkpoint), output=work_dir, task=TASK, opset=opset, device="cpu", dtype="fp32",
                        do_validation=False, library_name="transformers", local_files_only=True)
    finally:
        hf_logging.set_verbosity(verbosity)
    graph = work_dir / "model.onnx"
    if not graph.is_file():
        raise ExportError(f"optimum wrote no {graph}; files there: {sorted(p.name for p in work_dir.iterdir())}")
    check_kv_io(graph, info.num_layers)
    return graph


def kv_names(num_layers: int) -> tuple[list[str], list[str]]:
    """The past inputs and present outputs a KV-cached graph has, in layer order."""
    past = [f"past_key_values.{i}.{kind}" for i in range(num_layers) for kind in ("key", "value")]
    return past, [name.replace("past_key_values", "present") for name in past]


def check_kv_io(graph: Path, num_layers: int) -> None:
    """Refuse a graph that lacks the KV-cache inputs or outputs of any layer."""
    model = onnx.load(str(graph), load_external_data=False)
    inputs = {i.name for i in model.graph.input}
    outputs = {o.name for o in model.graph.output}
    past, present = kv_names(num_layers)
    missing_in = [n for n in ["input_ids", "attention_mask", *past] if n not in inputs]
    missing_out = [n for n in ["logits", *present] if n not in outputs]
    if missing_in or missing_out:
        raise ExportError(
            f"{graph.name} is not a KV-cached decoder: missing inputs {missing_in[:4]}, outputs {missing_out[:4]} "
            f"({len(missing_in)} + {len(missing_out)} in all); export with task {TASK!r}")
    extra_past = sorted(n for n in inputs if n.startswith("past_key_values.") and n not in past)
    if extra_past:
        raise ExportError(f"{graph.name} has past inputs for layers the config does not declare: {extra_past[:4]}")
