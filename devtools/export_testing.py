"""Tiny bundles for tests and benchmarks: a random tiny Qwen2 taken through the real export path.

``tiny_bundle`` builds once per process and per argument set (the unit and integration tests share
it), in a temporary directory removed at exit.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import cache
from pathlib import Path

from export.bundle import BundleConfig, BundleResult, build_bundle
from export.graph_files import ExternalData

ALL_DTYPES = ("fp32", "fp16", "q4", "q4f16", "q8")
# Untied embeddings: a random tied model mostly repeats its input token, an untied one writes varied
# (and UTF-8-splitting) text, which the streaming tests need. Seed 0 of this shape passes every gate.
TEST_MODEL = {"hidden": 64, "layers": 2, "heads": 4, "kv_heads": 2, "tie_embeddings": False}


@cache
def _workdir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="alta-tiny-bundles-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def tiny_checkpoint(out: Path, seed: int = 0, **overrides) -> Path:
    """A random tiny Qwen2 checkpoint with the contract's tokenizer (``training.tiny``)."""
    from training.tiny import build_tiny_qwen2

    return build_tiny_qwen2(out, seed=seed, **overrides)


def build_tiny_bundle(root: Path, dtypes: tuple[str, ...] = ALL_DTYPES, external_data: ExternalData = "always",
                      seed: int = 0, validate_tokens: int = 32, **overrides) -> BundleResult:
    """Checkpoint under ``root/checkpoint``, bundle under ``root/bundle``."""
    checkpoint = tiny_checkpoint(root / "checkpoint", seed=seed, **{**TEST_MODEL, **overrides})
    return build_bundle(BundleConfig(checkpoint=checkpoint, out=root / "bundle", dtypes=dtypes,
                                     external_data=external_data, validate_tokens=validate_tokens, overwrite=True))


@cache
def tiny_bundle(dtypes: tuple[str, ...] = ALL_DTYPES, external_data: ExternalData = "always", seed: int = 0,
                **overrides) -> BundleResult:
    """:func:`build_tiny_bundle`, once per process per arguments (treat the result as read-only)."""
    key = "-".join([*dtypes, external_data, str(seed), *(f"{k}={v}" for k, v in sorted(overrides.items()))])
    return build_tiny_bundle(_workdir() / key, dtypes, external_data, seed, **overrides)


def catalog_dir(models: Path, bundle: Path, tasks: list[str] | tuple[str, ...] = ("epicrisis",)) -> Path:
    """``models`` made a models/ folder whose catalog.json names ``bundle`` for ``tasks`` (as the backend reads it)."""
    import json

    from export import catalog

    models.mkdir(parents=True, exist_ok=True)
    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    catalog.register(models / "catalog.json", bundle, manifest, list(tasks))
    return models
