"""Saving ONNX graphs so that ONNX Runtime and Transformers.js can both load them.

Rules (see ARCHITECTURE.md, "Transformers.js bundle layout"):
- a graph whose weights would pass protobuf's 2 GB limit keeps them as external data;
- external data lives beside the graph as ``<file>.onnx_data``, then ``<file>.onnx_data_1``,
  ``_2`` ... (the names Transformers.js asks for), each under :data:`MAX_FILE_BYTES`, because
  browsers cannot allocate or cache more in one piece;
- the ``location`` recorded inside the graph is exactly that bare file name (checked after saving:
  ORT's own quantizers write ``X.onnx.data``, which Transformers.js never requests).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import onnx
from onnx import ModelProto, TensorProto, numpy_helper

logger = logging.getLogger(__name__)

MAX_FILE_BYTES = 2**31 - 1  # protobuf's limit, and the largest single buffer a browser will take
INLINE_LIMIT = 1_900_000_000  # above this many weight bytes a graph keeps its weights outside
MIN_EXTERNAL_TENSOR_BYTES = 1024  # smaller tensors stay inside the graph (onnx's own threshold)
ALIGNMENT = 64

ExternalData = Literal["auto", "always", "never"]


class GraphFileError(RuntimeError):
    """A graph could not be saved within the size and naming rules."""


@dataclass(frozen=True)
class SavedGraph:
    """A graph on disk and the external data files it references (bare names, in order)."""

    path: Path
    data_files: tuple[str, ...]

    @property
    def files(self) -> list[Path]:
        return [self.path] + [self.path.parent / name for name in self.data_files]

    @property
    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.files)


def data_file_name(graph_name: str, index: int) -> str:
    """Transformers.js's name for chunk ``index`` of a graph's external data."""
    return f"{graph_name}_data" + ("" if index == 0 else f"_{index}")


def _weight_tensors(model: ModelProto) -> list[TensorProto]:
    return list(model.graph.initializer)


def _tensor_bytes(tensor: TensorProto) -> int:
    if tensor.data_location == TensorProto.EXTERNAL:
        return int({e.key: e.value for e in tensor.external_data}.get("length", 0))
    if tensor.HasField("raw_data"):
        return len(tensor.raw_data)
    return tensor.ByteSize()


def _as_raw(tensor: TensorProto) -> None:
    """Move a tensor's values into ``raw_data`` (some writers fill the typed fields instead)."""
    if not tensor.HasField("raw_data"):
        tensor.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(tensor), tensor.name))


def weight_bytes(model: ModelProto) -> int:
    """Bytes of all initializers, wherever they are stored."""
    return sum(_tensor_bytes(t) for t in _weight_tensors(model))


def save_graph(model: ModelProto, path: Path, external_data: ExternalData = "auto",
               chunk_bytes: int = MAX_FILE_BYTES) -> SavedGraph:
    """Write ``model`` to ``path`` (and its external data beside it); the model's tensors are consumed.

    ``model`` must have all its weights loaded (``onnx.load`` does that by default).
    """
    if any(t.data_location == TensorProto.EXTERNAL for t in _weight_tensors(model)):
        raise GraphFileError(f"{path.name}: the model still references external data on disk; load it with "
                             "onnx.load(path) (load_external_data=True) before saving it elsewhere")
    if not 0 < chunk_bytes <= MAX_FILE_BYTES:
        raise ValueError(f"chunk_bytes must be in (0, {MAX_FILE_BYTES}]")
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(path.name + "_data*"):
        stale.unlink()
    total = weight_bytes(model)
    inline = external_data == "never" or (external_data == "auto" and total <= INLINE_LIMIT)
    if inline:
        if total > INLINE_LIMIT:
            raise GraphFileError(f"{path.name}: {total / 1e9:.2f} GB of weights cannot be inlined in one protobuf "
                                 "(2 GB limit); use external_data='auto'")
        onnx.save_model(model, str(path))
        data_files: tuple[str, ...] = ()
    else:
        data_files = _write_external(model, path, chunk_bytes)
        onnx.save_model(model, str(path))
    saved = SavedGraph(path, data_files)
    check_saved_graph(saved)
    logger.info("saved %s (%d external data files, %.1f MB)", path.name, len(data_files), saved.size_bytes / 1e6)
    return saved


class ChunkedData:
    """A graph's external data as Transformers.js reads it: ``<graph>.onnx_data``, ``_data_1``, ... beside
    the graph, each tensor aligned and whole in one file, no file over ``chunk_bytes``.

    :meth:`write` streams one tensor's bytes into the current file (opening the next when it would not
    fit) and points the tensor there; ``names`` lists the files written.
    """

    def __init__(self, graph: Path, chunk_bytes: int) -> None:
        self.graph, self.chunk_bytes = graph, chunk_bytes
        self.names: list[str] = []
        self._out = None
        self._offset = 0

    def write(self, tensor: TensorProto, size: int, blocks: Iterable[bytes]) -> None:
        if size > self.chunk_bytes:
            raise GraphFileError(
                f"{self.graph.name}: tensor {tensor.name!r} alone is {size / 1e9:.2f} GB, over the "
                f"{self.chunk_bytes / 1e9:.2f} GB a browser loads in one file; export a smaller dtype "
                "(q4 / q4f16) or a smaller model")
        pad = (-self._offset) % ALIGNMENT
        if self._out is None or self._offset + pad + size > self.chunk_bytes:
            self.close()
            self.names.append(data_file_name(self.graph.name, len(self.names)))
            self._out = (self.graph.parent / self.names[-1]).open("wb")
            self._offset, pad = 0, 0
        self._out.write(b"\0" * pad)
        self._offset += pad
        for block in blocks:
            self._out.write(block)
        tensor.data_location = TensorProto.EXTERNAL
        del tensor.external_data[:]
        for key, value in (("location", self.names[-1]), ("offset", str(self._offset)), ("length", str(size))):
            entry = tensor.external_data.add()
            entry.key, entry.value = key, value
        self._offset += size

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None


def _write_external(model: ModelProto, path: Path, chunk_bytes: int) -> tuple[str, ...]:
    data = ChunkedData(path, chunk_bytes)
    try:
        for tensor in _weight_tensors(model):
            _as_raw(tensor)
            size = len(tensor.raw_data)
            if size < MIN_EXTERNAL_TENSOR_BYTES:
                continue
            data.write(tensor, size, [tensor.raw_data])
            tensor.ClearField("raw_data")
    finally:
        data.close()
    return tuple(data.names)


def external_locations(path: Path) -> list[str]:
    """The external data locations a saved graph records, in first-use order (no data is read)."""
    model = onnx.load(str(path), load_external_data=False)
    seen: dict[str, None] = {}
    for tensor in _weight_tensors(model):
        if tensor.data_location == TensorProto.EXTERNAL:
            seen[{e.key: e.value for e in tensor.external_data}["location"]] = None
    return list(seen)


def check_saved_graph(saved: SavedGraph) -> None:
    """Re-read the graph: its recorded locations are the files written, named as Transformers.js asks."""
    locations = external_locations(saved.path)
    expected = [data_file_name(saved.path.name, i) for i in range(len(saved.data_files))]
    if locations != list(saved.data_files) or list(saved.data_files) != expected:
        raise GraphFileError(f"{saved.path.name} records external data {locations}, expected {expected}; "
                             "Transformers.js would not find it")
    for file in saved.files:
        if not file.is_file():
            raise GraphFileError(f"{file.name} is missing after saving {saved.path.name}")
        if file.stat().st_size > MAX_FILE_BYTES:
            raise GraphFileError(f"{file.name} is {file.stat().st_size / 1e9:.2f} GB, over the 2 GB a browser "
                                 "can load in one file")
