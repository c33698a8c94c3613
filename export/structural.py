"""The structural gate's reference: a quantised graph's greedy run on its own dequantised float twin.

Used with ``--gate structural`` (random-weight exports, real shapes in tests and benchmarks): the
quantised graph ships only if it computes what its own weights say, within the kernels' rounding
(thresholds in :data:`export.validate.STRUCTURAL`). The twin is written beside the graph, run once
per golden prompt and deleted.
"""

from __future__ import annotations

import logging
from pathlib import Path

from export.dequantize import dequantized_twin
from export.reference import Reference, graph_references

logger = logging.getLogger(__name__)


def twin_references(graph: Path, prompts: dict[str, list[int]], new_tokens: int) -> list[Reference]:
    """Greedy references from ``graph``'s dequantised float twin (built in ``graph``'s folder, then removed)."""
    twin = graph.parent / f".{graph.stem}-twin.onnx"
    try:
        dequantized_twin(graph, twin)
        return graph_references(twin, prompts, new_tokens)
    finally:
        for path in (twin, twin.with_name(twin.name + "_data")):
            path.unlink(missing_ok=True)
