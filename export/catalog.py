"""models/catalog.json: the bundles this installation can serve, which the backend's ONNX engine reads."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

CATALOG_FORMAT = 1
ABOUT = ("Models Alta can serve. Each entry names a bundle directory (relative to this file) written by "
         "`python -m export bundle`, the dtype the backend loads, and the tasks it was trained for. The backend "
         "picks ALTA_ONNX_MODEL, else `default`, else the only entry.")


def empty_catalog() -> dict[str, Any]:
    return {"format": CATALOG_FORMAT, "about": ABOUT, "default": None, "models": []}


def register(catalog: Path, bundle_dir: Path, manifest: dict[str, Any], tasks: list[str],
             make_default: bool = True, demo: bool | None = None) -> dict[str, Any]:
    """Add or replace the entry for ``bundle_dir``'s model; returns the entry written.

    ``demo`` marks a demonstration model (every draft it writes is labelled as such on the page and
    in the API); None keeps what an earlier entry of the same name said.
    """
    data = json.loads(catalog.read_text(encoding="utf-8")) if catalog.is_file() else empty_catalog()
    if data.get("format") != CATALOG_FORMAT:
        raise ValueError(f"{catalog} has format {data.get('format')!r}; this exporter writes format {CATALOG_FORMAT}")
    entry = {
        "name": manifest["name"],
        "bundle": Path(os.path.relpath(bundle_dir.resolve(), catalog.parent.resolve())).as_posix(),
        "dtype": manifest["default_dtype"],
        "dtypes": [d for d, r in manifest["dtypes"].items() if r["status"] == "passed"],
        "tasks": tasks,
        "version": manifest["version"],
        "source_sha256": manifest["source"]["sha256"],
    }
    earlier = next((m for m in data["models"] if m["name"] == entry["name"]), {})
    if demo if demo is not None else earlier.get("demo", False):
        entry["demo"] = True
    data["models"] = [m for m in data["models"] if m["name"] != entry["name"]] + [entry]
    if make_default or data.get("default") is None:
        data["default"] = entry["name"]
    tmp = catalog.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    tmp.replace(catalog)
    return entry
