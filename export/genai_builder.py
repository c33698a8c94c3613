"""Checkpoint -> one dtype's graph with onnxruntime-genai's model builder, saved in Alta's layout.

The builder (``onnxruntime_genai.models.builder``) writes a decoder made for fast CPU/WebGPU decode:
GroupQueryAttention with fused rotary embeddings (the KV cache keeps its 2 key/value heads, never
expanded to every query head), SkipSimplifiedLayerNormalization, fused QKV and last-row logits
(``prune_lm_head``). It writes its weights as external data from the start, so no 2 GB protobuf is
ever built. Alta asks it for the two float graphs only and quantises those itself, one weight at a
time (:mod:`export.nbits`; the builder's own quantiser holds about three copies of the model):

=======  =======================================  ==============================================
dtype    from                                     graph
=======  =======================================  ==============================================
fp32     builder ``-p fp32 -e cpu``               float32 everywhere
fp16     builder ``-p fp16 -e webgpu``            float16 weights, activations, KV cache, logits
q4       fp32 graph, MatMulNBits 4-bit            float32 activations
q4f16    fp16 graph, MatMulNBits 4-bit            float16 activations
q8       fp32 graph, dynamic int8 (export.int8)   float32 activations, uint8 per call
=======  =======================================  ==============================================

(``-e webgpu`` only chooses float16 I/O with GroupQueryAttention; the graph's ops are the contrib ops
the CPU and WASM builds of ONNX Runtime run.) 4-bit quantisation is symmetric, ``block_size`` 32,
``accuracy_level`` as asked (4: int8 compute, the fast CPU path); the tied embedding becomes
``GatherBlockQuantized`` over the lm_head's blocks, so the vocabulary matrix is stored once, quantised.
q8 is dynamic int8 with per-channel weights (:mod:`export.int8`), not 8-bit MatMulNBits: it runs
1.7x faster in Python ONNX Runtime and is the only quantised form onnxruntime-web's WASM build
computes in integers; its tied embedding reads the lm_head's int8 matrix through a plain Gather.

After that the KV inputs' head dimension, which the builder leaves symbolic (``kv_cache_dim``), is
written as a number (Transformers.js sizes the empty cache from the graph's input shapes and turns any
unknown name into 0), and the external data is streamed into ``<file>.onnx_data[_N]`` chunks under
2 GB, named as Transformers.js asks (:mod:`export.graph_files`).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import onnx
from onnx import TensorProto

from export.graph_files import (
    MAX_FILE_BYTES,
    ChunkedData,
    GraphFileError,
    SavedGraph,
    check_saved_graph,
)
from export.layout import GRAPH_FILES
from export.onnx_export import CheckpointInfo, ExportError, check_kv_io

logger = logging.getLogger(__name__)

BUILDER_ARGS = {"fp32": ("fp32", "cpu"), "fp16": ("fp16", "webgpu"), "q4": ("int4", "cpu"),
                "q4f16": ("int4", "webgpu"), "q8": ("int8", "cpu")}
BLOCK_SIZE = 32
MAX_RSS_BYTES = 13 * 10**9  # the builder is stopped above this (the machine is shared: 24 GiB in all)
_COPY_BLOCK = 1 << 24


@dataclass(frozen=True)
class BuildStats:
    """What one builder run cost: wall seconds and the child process's peak resident memory."""

    seconds: float
    peak_rss_bytes: int


def builder_command(checkpoint: Path, out: Path, dtype: str, cache: Path, accuracy_level: int,
                    block_size: int = BLOCK_SIZE) -> list[str]:
    precision, provider = BUILDER_ARGS[dtype]
    options = ["hf_token=false", "prune_lm_head=true"]
    if precision in ("int4", "int8"):
        options += [f"accuracy_level={accuracy_level}", f"block_size={block_size}", "is_symmetric=true"]
    return [sys.executable, "-m", "export.genai_run", "-m", str(checkpoint), "-o", str(out), "-p", precision,
            "-e", provider, "-c", str(cache), "--extra_options", *options]


def _rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def run_builder(checkpoint: Path, out: Path, dtype: str, accuracy_level: int = 4,
                max_rss_bytes: int = MAX_RSS_BYTES) -> BuildStats:
    """Run the builder for ``dtype`` into ``out`` (``model.onnx`` + ``model.onnx.data``) in a child process.

    Alta asks it for float graphs only (``fp32``, ``fp16``): its own quantisation holds about three
    copies of the weights (see :mod:`export.nbits`).
    """
    out.mkdir(parents=True, exist_ok=True)
    cache = out / "builder-cache"
    command = builder_command(checkpoint, out, dtype, cache, accuracy_level)
    log = out / "builder.log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[1]),
                                                                     os.environ.get("PYTHONPATH")]))}
    started = time.perf_counter()
    over = False
    with log.open("wb") as sink:
        child = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=env)
        while (done := os.wait4(child.pid, os.WNOHANG))[0] == 0:
            if _rss_bytes(child.pid) > max_rss_bytes:
                over = True
                child.kill()
                done = os.wait4(child.pid, 0)
                break
            time.sleep(0.25)
        _, status, usage = done
    seconds = time.perf_counter() - started
    shutil.rmtree(cache, ignore_errors=True)
    code = os.waitstatus_to_exitcode(status)
    if over:
        raise ExportError(f"onnxruntime-genai's builder passed {max_rss_bytes / 1e9:.0f} GB resident for {dtype} and "
                          "was stopped; export on a machine with more memory, or raise max_rss_bytes")
    if code != 0 or not (out / "model.onnx").is_file():
        tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-8:]
        raise ExportError(f"onnxruntime-genai's builder failed for {dtype} (exit {code}); last lines of {log}:\n"
                          + "\n".join(tail))
    return BuildStats(round(seconds, 3), usage.ru_maxrss * 1024)


def fix_kv_head_dim(model: onnx.ModelProto, head_dim: int) -> int:
    """Write the KV cache's symbolic head dimension as ``head_dim`` in the graph's inputs and outputs."""
    fixed = 0
    for value in list(model.graph.input) + list(model.graph.output):
        if not value.name.startswith(("past_key_values.", "present.")):
            continue
        dim = value.type.tensor_type.shape.dim[3]
        if dim.dim_param:
            dim.Clear()
            dim.dim_value = head_dim
            fixed += 1
        elif dim.dim_value != head_dim:
            raise ExportError(f"{value.name} has head dimension {dim.dim_value}, the config says {head_dim}")
    return fixed


def _read_range(source, offset: int, size: int, short: str) -> Iterator[bytes]:
    """``size`` bytes of ``source`` from ``offset``, in blocks (one block in memory at a time)."""
    source.seek(offset)
    left = size
    while left:
        block = source.read(min(_COPY_BLOCK, left))
        if not block:
            raise GraphFileError(short)
        yield block
        left -= len(block)


def relocate(src_graph: Path, dst_graph: Path, head_dim: int, chunk_bytes: int = MAX_FILE_BYTES) -> SavedGraph:
    """Copy a builder graph to ``dst_graph`` with its external data streamed into Transformers.js's chunks.

    One tensor is in memory at a time; the source files are left as they are.
    """
    model = onnx.load(str(src_graph), load_external_data=False)
    fix_kv_head_dim(model, head_dim)
    dst_graph.parent.mkdir(parents=True, exist_ok=True)
    for stale in dst_graph.parent.glob(dst_graph.name + "_data*"):
        stale.unlink()
    data = ChunkedData(dst_graph, chunk_bytes)
    sources: dict[str, object] = {}
    try:
        for tensor in model.graph.initializer:
            if tensor.data_location != TensorProto.EXTERNAL:
                continue
            info = {e.key: e.value for e in tensor.external_data}
            location, size = info["location"], int(info["length"])
            if location not in sources:
                sources[location] = (src_graph.parent / location).open("rb")
            data.write(tensor, size, _read_range(sources[location], int(info.get("offset", 0)), size,
                                                 f"{location} ends before tensor {tensor.name!r} does"))
    finally:
        data.close()
        for handle in sources.values():
            handle.close()
    onnx.save_model(model, str(dst_graph))
    saved = SavedGraph(dst_graph, tuple(data.names))
    check_saved_graph(saved)
    return saved


# The float graph each dtype starts from, and how it is quantised (None: shipped as is; 4: MatMulNBits,
# export.nbits; "int8": dynamic int8, export.int8). The builder writes only float graphs; Alta
# quantises them one weight at a time.
FLOAT_BASE: dict[str, tuple[str, int | str | None]] = {
    "fp32": ("fp32", None), "fp16": ("fp16", None), "q4": ("fp32", 4), "q8": ("fp32", "int8"), "q4f16": ("fp16", 4)}


def float_graph(checkpoint: Path, base: str, work: Path) -> tuple[Path, BuildStats | None]:
    """The builder's ``base`` (fp32 or fp16) graph under ``work/<base>-builder``, built once per export."""
    raw = work / f"{base}-builder"
    if (raw / "model.onnx").is_file():
        return raw / "model.onnx", None
    return raw / "model.onnx", run_builder(checkpoint, raw, base)


def build_dtype(checkpoint: Path, dtype: str, work: Path, accuracy_level: int = 4,
                chunk_bytes: int = MAX_FILE_BYTES, embedding: str = "quantised") -> tuple[SavedGraph, BuildStats]:
    """One dtype's graph in ``work/<dtype>/`` in Alta's layout, and what building it cost.

    The builder's float graphs stay in ``work`` (the fp32 one serves fp32, q4 and q8; the fp16 one fp16
    and q4f16): remove ``work`` when the export is done.
    """
    info = CheckpointInfo.read(checkpoint)
    if info.head_dim % 16:
        raise ExportError(f"head dimension {info.head_dim} is not a multiple of 16, which ONNX Runtime's "
                          "GroupQueryAttention requires; export this model with --builder optimum")
    started = time.perf_counter()
    base, quantiser = FLOAT_BASE[dtype]
    source, built = float_graph(checkpoint, base, work)
    if quantiser is not None:
        from export.int8 import quantize_graph_int8
        from export.nbits import quantize_graph

        quantised = work / f"{dtype}-quantised" / "model.onnx"
        quantised.parent.mkdir(parents=True, exist_ok=True)
        if quantiser == "int8":
            quantize_graph_int8(source, quantised, embedding)
        else:
            quantize_graph(source, quantised, int(quantiser), BLOCK_SIZE, accuracy_level, embedding)
        source = quantised
    saved = relocate(source, work / dtype / GRAPH_FILES[dtype], info.head_dim, chunk_bytes)
    if quantiser is not None:
        shutil.rmtree(source.parent, ignore_errors=True)
    check_kv_io(saved.path, info.num_layers)
    stats = BuildStats(round(time.perf_counter() - started, 3), built.peak_rss_bytes if built else 0)
    logger.info("%s: built in %.1f s (%s), %.1f MB", dtype, stats.seconds,
                f"builder peak {built.peak_rss_bytes / 1e9:.2f} GB" if built else f"from the {base} graph",
                saved.size_bytes / 1e6)
    return saved, stats
