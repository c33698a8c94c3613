"""The model bundle's ``manifest.json`` and ``models/catalog.json``: one definition of each format.

``export`` writes them and the backend reads them (``backend/engines/bundle.py``, the static routes);
both go through these models. Pydantic only: safe for the ``serve`` install (no torch, no onnx).
Unknown keys are kept, so a file written by a newer exporter round-trips.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

__all__ = [
    "ALWAYS_HASHED", "BUNDLE_FORMAT", "CATALOG", "CATALOG_FORMAT", "MANIFEST", "BundleManifest", "Catalog",
    "CatalogEntry", "DtypeEntry", "FileEntry",
]

MANIFEST = "manifest.json"
BUNDLE_FORMAT = "alta-bundle/1"
CATALOG = "catalog.json"
CATALOG_FORMAT = 1
ALWAYS_HASHED = ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json")
"""Files whose sha256 the backend checks on every start, besides the graph it will run."""


class _Format(BaseModel):
    model_config = ConfigDict(extra="allow")


class FileEntry(_Format):
    """One file of a bundle (or of its source checkpoint): POSIX path relative to the root."""

    path: str
    size: int
    sha256: str


class DtypeEntry(_Format):
    """One dtype's graph: whether it passed the validation gate, its file and external data files."""

    status: Literal["passed", "failed"]
    file: str
    size_bytes: int | None = None
    ratio_to_fp32: float | None = None
    external_data: list[str] = []  # passed graphs only
    reasons: list[str] = []  # failed graphs only: why the gate refused it
    validation: dict[str, Any] | None = None


class BundleManifest(_Format):
    """``manifest.json``: what was exported from where, how each dtype was judged, and every file."""

    format: str = BUNDLE_FORMAT
    version: str  # a digest of the file list: same bytes, same version
    created_at: str
    name: str
    default_dtype: str
    source: dict[str, Any] = {}
    contract: dict[str, Any] = {}
    export: dict[str, Any] = {}
    validation: dict[str, Any] = {}
    tools: dict[str, str] = {}
    dtypes: dict[str, DtypeEntry]
    files: list[FileEntry]

    def passed_dtypes(self) -> list[str]:
        return [d for d, e in self.dtypes.items() if e.status == "passed"]


class CatalogEntry(_Format):
    """One model of ``models/catalog.json``; ``bundle`` is relative to the catalog's folder."""

    name: str
    bundle: Path
    dtype: str | None = None  # the dtype the backend loads (the bundle's default when absent)
    dtypes: list[str] = []
    tasks: tuple[str, ...] = ("epicrisis",)  # what the model was trained for
    version: str | None = None
    source_sha256: str | None = None
    demo: bool = False  # a demonstration model: its drafts are labelled as such


class Catalog(_Format):
    """``models/catalog.json``: the bundles this installation can serve, and the default one."""

    format: int = CATALOG_FORMAT
    about: str = ""
    default: str | None = None
    models: list[CatalogEntry] = []
