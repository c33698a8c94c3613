"""models/catalog.json: the bundles this installation can serve, which the backend's ONNX engine reads."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from clinical.model_bundle import CATALOG_FORMAT, BundleManifest, Catalog, CatalogEntry

ABOUT = ("Models Alta can serve. Each entry names a bundle directory (relative to this file) written by "
         "`python -m export bundle`, the dtype the backend loads, and the tasks it was trained for. The backend "
         "picks ALTA_ONNX_MODEL, else `default`, else the only entry.")


def empty_catalog() -> dict[str, Any]:
    return Catalog(format=CATALOG_FORMAT, about=ABOUT, default=None, models=[]).model_dump(mode="json")


def register(catalog: Path, bundle_dir: Path, manifest: dict[str, Any], tasks: list[str],
             make_default: bool = True, demo: bool | None = None) -> dict[str, Any]:
    """Add or replace the entry for ``bundle_dir``'s model; returns the entry written.

    ``demo`` marks a demonstration model (every draft it writes is labelled as such on the page and
    in the API); None keeps what an earlier entry of the same name said.
    """
    data = json.loads(catalog.read_text(encoding="utf-8")) if catalog.is_file() else empty_catalog()
    if data.get("format") != CATALOG_FORMAT:
        raise ValueError(f"{catalog} has format {data.get('format')!r}; this exporter writes format {CATALOG_FORMAT}")
    current = Catalog.model_validate(data)
    bundle = BundleManifest.model_validate(manifest)
    name = bundle.name
    earlier = next((m for m in current.models if m.name == name), None)
    marked = demo if demo is not None else earlier is not None and earlier.demo
    new = CatalogEntry(name=name, bundle=Path(os.path.relpath(bundle_dir.resolve(), catalog.parent.resolve())),
                       dtype=bundle.default_dtype, dtypes=bundle.passed_dtypes(), tasks=tuple(tasks),
                       version=bundle.version, source_sha256=bundle.source["sha256"],
                       **({"demo": True} if marked else {}))  # written only when true, as before
    entry = new.model_dump(mode="json", exclude_unset=True)
    data["models"] = [m for m in data["models"] if m["name"] != name] + [entry]
    if make_default or data.get("default") is None:
        data["default"] = name
    tmp = catalog.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    tmp.replace(catalog)
    return entry
