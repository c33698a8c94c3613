"""Opening a model bundle for serving: the catalog entry, the manifest check, and what the engine needs.

A bundle (written by ``python -m export bundle``) is served only if its files are the ones its
``manifest.json`` lists: present under the same names, of the same size, and (for the files the
engine will read) with the same sha256. A copy that went wrong on the way to a hospital server, or
an external data file someone renamed, is refused at start-up with the file's name.
No torch, no transformers, no onnx: this runs in the ``serve`` install. The formats themselves are
defined once, in :mod:`clinical.model_bundle`, which the exporter writes with.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from clinical.model_bundle import (
    ALWAYS_HASHED,
    BUNDLE_FORMAT,
    CATALOG,
    CATALOG_FORMAT,
    MANIFEST,
    BundleManifest,
    Catalog,
    CatalogEntry,
)

__all__ = ["MANIFEST", "BundleError", "CatalogEntry", "ServedBundle", "demo_models", "load_catalog", "open_bundle",
           "resolve_bundle", "verify_files"]

logger = logging.getLogger(__name__)


class BundleError(ValueError):
    """A bundle or catalog entry cannot be served; the message names the file and how to fix it."""


@dataclass(frozen=True)
class ServedBundle:
    """A verified bundle and the one dtype the engine will run."""

    root: Path
    name: str
    version: str
    dtype: str
    graph: Path
    tokenizer: Path
    eos_token_ids: tuple[int, ...]
    max_positions: int
    manifest: dict[str, Any]
    tasks: tuple[str, ...] = ("epicrisis",)  # what the model was trained for (the catalog entry says)
    demo: bool = False  # the catalog marks it as a demonstration model


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BundleError(f"{path} is missing: {what}") from None
    except json.JSONDecodeError as exc:
        raise BundleError(f"{path} is not valid JSON ({exc}); re-export or re-copy it") from None


def _parse(path: Path, model: type[Any], data: dict[str, Any]) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise BundleError(f"{path} does not have the shape this backend reads ({exc.error_count()} problems, "
                          f"first: {exc.errors()[0]['loc']} {exc.errors()[0]['msg']}); re-export it with this "
                          "version of Alta") from None


def _missing_hint(root: Path, rel: str, manifest: BundleManifest) -> str:
    for dtype, entry in manifest.dtypes.items():
        if rel in entry.external_data:
            folder = (root / rel).parent
            stem = Path(entry.file).name
            near = sorted(p.name for p in folder.glob(stem + "*") if p.name != stem) if folder.is_dir() else []
            return (f"; {entry.file} ({dtype}) records its external data under exactly this name, so a renamed "
                    f"data file cannot be found" + (f" (found instead: {', '.join(near)})" if near else ""))
    return ""


def verify_files(root: Path, manifest: BundleManifest, hashed: set[str]) -> None:
    """Every file the manifest lists is present with its size; those in ``hashed`` also with their sha256."""
    for entry in manifest.files:
        rel, path = entry.path, root / entry.path
        if not path.is_file():
            raise BundleError(f"bundle {root}: {rel} is missing (listed in {MANIFEST}){_missing_hint(root, rel, manifest)}; "
                              "copy the bundle again, or re-export it with `python -m export bundle`")
        size = path.stat().st_size
        if size != entry.size:
            raise BundleError(f"bundle {root}: {rel} is {size} bytes, {MANIFEST} says {entry.size} (truncated or "
                              "altered copy); copy the bundle again")
        if rel in hashed and _sha256(path) != entry.sha256:
            raise BundleError(f"bundle {root}: {rel} does not match its sha256 in {MANIFEST} (altered or corrupt "
                              "copy); copy the bundle again, or re-export it")


def open_bundle(root: Path, dtype: str | None = None) -> ServedBundle:
    """Verify ``root`` against its manifest and pick ``dtype`` (default: the bundle's default dtype)."""
    if not root.is_dir():
        raise BundleError(f"bundle directory {root} does not exist; export one with `python -m export bundle "
                          f"--checkpoint DIR --out {root}` or fix ALTA_ONNX_BUNDLE / models/catalog.json")
    manifest = _read_json(root / MANIFEST, "every bundle carries one; export it with `python -m export bundle`")
    if manifest.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"{root / MANIFEST} has format {manifest.get('format')!r}, this backend reads "
                          f"{BUNDLE_FORMAT!r}; re-export the bundle with this version of Alta")
    parsed: BundleManifest = _parse(root / MANIFEST, BundleManifest, manifest)
    dtype = dtype or parsed.default_dtype
    entry = parsed.dtypes.get(dtype)
    if entry is None:
        raise BundleError(f"bundle {root} has no {dtype} graph; it has {', '.join(parsed.dtypes)}")
    if entry.status != "passed":
        raise BundleError(f"bundle {root}: {dtype} failed the validation gate at export and is not shipped: "
                          f"{'; '.join(entry.reasons)}; choose another dtype (ALTA_ONNX_DTYPE)")
    hashed = set(ALWAYS_HASHED) | {entry.file, *entry.external_data}
    verify_files(root, parsed, hashed)
    config = _read_json(root / "config.json", "a bundle needs its model config")
    generation = _read_json(root / "generation_config.json", "a bundle needs its generation config")
    eos = generation.get("eos_token_id", config.get("eos_token_id"))
    if eos is None:
        raise BundleError(f"{root}/generation_config.json declares no eos_token_id; generation would not stop")
    return ServedBundle(
        root=root, name=parsed.name, version=parsed.version, dtype=dtype, graph=root / entry.file,
        tokenizer=root / "tokenizer.json", eos_token_ids=tuple([eos] if isinstance(eos, int) else eos),
        max_positions=int(config.get("max_position_embeddings", 32768)), manifest=manifest)


def load_catalog(models_dir: Path) -> tuple[list[CatalogEntry], str | None]:
    """The catalog's entries (bundle paths resolved to directories) and its default model name."""
    path = models_dir / CATALOG
    data = _read_json(path, "the model catalog; export a model with `python -m export bundle ... --catalog "
                            f"{path}` or set ALTA_ONNX_BUNDLE")
    if data.get("format") != CATALOG_FORMAT:
        raise BundleError(f"{path} has format {data.get('format')!r}; this backend reads format {CATALOG_FORMAT}")
    catalog: Catalog = _parse(path, Catalog, data)
    entries = [m.model_copy(update={"bundle": (models_dir / m.bundle).resolve()}) for m in catalog.models]
    return entries, catalog.default


def demo_models(models_dir: Path) -> frozenset[str]:
    """Names of the catalog's demonstration models (none when no catalog has been written)."""
    if not (models_dir / CATALOG).is_file():
        return frozenset()
    entries, _ = load_catalog(models_dir)
    return frozenset(e.name for e in entries if e.demo)


def resolve_bundle(models_dir: Path, model: str | None, bundle: Path | None, dtype: str | None) -> ServedBundle:
    """The bundle the settings ask for: an explicit directory, else a catalog entry (named, default or only)."""
    if bundle is not None:
        return open_bundle(bundle, dtype)
    entries, default = load_catalog(models_dir)
    wanted = model or default
    if wanted is None:
        if len(entries) != 1:
            raise BundleError(f"{models_dir / CATALOG} lists {len(entries)} models and no default; set ALTA_ONNX_MODEL"
                              " to one of them, or export one with `python -m export bundle ... --catalog`")
        wanted = entries[0].name
    entry = next((e for e in entries if e.name == wanted), None)
    if entry is None:
        raise BundleError(f"model {wanted!r} is not in {models_dir / CATALOG}; it lists "
                          f"{', '.join(e.name for e in entries) or 'nothing'}")
    served = dataclasses.replace(open_bundle(entry.bundle, dtype or entry.dtype), tasks=entry.tasks, demo=entry.demo)
    if entry.version and entry.version != served.version:
        logger.warning("catalog lists %s version %s but its bundle is version %s; serving the bundle's",
                       entry.name, entry.version, served.version)
    return served
