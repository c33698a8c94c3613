"""The bundle's manifest.json: every file with size and sha256, where it came from, and how it was validated.

The backend refuses a bundle whose files do not match it (missing, renamed, truncated, altered), so
a copy that went wrong on the way to a hospital server is caught at start-up, naming the file.
"""

from __future__ import annotations

import hashlib
import json
import platform
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from clinical.model_bundle import BUNDLE_FORMAT as FORMAT
from clinical.model_bundle import MANIFEST, BundleManifest

TOOLS = ("torch", "transformers", "optimum", "optimum-onnx", "onnx", "onnxruntime", "onnx-ir", "tokenizers",
         "numpy")
_BLOCK = 1 << 22


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def file_entries(root: Path, exclude: tuple[str, ...] = (MANIFEST,)) -> list[dict[str, Any]]:
    """Every regular file under ``root`` (POSIX relative paths, sorted) with its size and sha256."""
    entries = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if rel in exclude:
            continue
        entries.append({"path": rel, "size": path.stat().st_size, "sha256": sha256_file(path)})
    return entries


def checkpoint_digest(checkpoint: Path) -> dict[str, Any]:
    """One sha256 over the checkpoint's files (name, size, sha256 each), and the list itself."""
    files = file_entries(checkpoint, exclude=())
    digest = hashlib.sha256()
    for f in files:
        digest.update(f"{f['path']}\0{f['size']}\0{f['sha256']}\n".encode())
    return {"sha256": digest.hexdigest(), "files": files}


def tool_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in TOOLS:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def write_manifest(root: Path, content: dict[str, Any]) -> Path:
    """Write ``manifest.json``: ``content``, the file list of ``root`` as it is now, and a version.

    The version is a digest of the file list, so the same bytes give the same version and any
    re-export that changes a file gives a new one.
    """
    files = file_entries(root)
    digest = hashlib.sha256("".join(f"{f['path']}\0{f['sha256']}\n" for f in files).encode()).hexdigest()
    manifest = BundleManifest.model_validate({
        "format": FORMAT, "version": digest[:12], "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **content, "files": files}).model_dump(exclude_unset=True)  # python mode: a NaN still fails below
    path = root / MANIFEST
    path.write_text(json.dumps(manifest, ensure_ascii=False, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return path
