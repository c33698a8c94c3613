"""Tiny bundles for tests and benchmarks: a random tiny Qwen2 taken through the real export path.

The checkpoints are :mod:`devtools.tiny_models`' (the real Qwen2.5 tokenizer, cached under .cache/).
``tiny_bundle`` exports once per process and per argument set (the unit and integration tests share
it), in a temporary directory removed at exit.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import cache
from pathlib import Path

from devtools.tiny_models import spec_of
from export.bundle import BundleConfig, BundleResult, build_bundle
from export.graph_files import ExternalData

ALL_DTYPES = ("fp32", "fp16", "q4", "q4f16", "q8")
# Untied embeddings: a random tied model mostly repeats its input token, an untied one writes varied
# (and UTF-8-splitting) text, which the streaming tests need. Seed 0 of this model passes every gate.
TEST_MODEL = "qwen2.5-tiny-untied"
TEST_SPEC = spec_of(TEST_MODEL)


@cache
def _workdir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="alta-tiny-bundles-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def tiny_checkpoint(out: Path | None = None, seed: int = 0, name: str = "qwen2.5-tiny", **overrides) -> Path:
    """A random tiny Qwen2 with the real Qwen2.5 tokenizer: the shared cached one, or a writable copy in ``out``.

    ``overrides`` are :class:`devtools.tiny_models.TinySpec` fields (hidden, layers, heads, kv_heads, ...).
    """
    from devtools.tiny_models import copy_of, tiny_model

    if out is None:
        return tiny_model(name, seed=seed, **overrides)
    return copy_of(name, out, seed=seed, **overrides)


def bundle_checkpoint(seed: int = 0, **overrides) -> Path:
    """The cached checkpoint :func:`build_tiny_bundle` exports (read-only)."""
    return tiny_checkpoint(seed=seed, name=TEST_MODEL, **overrides)


def build_tiny_bundle(root: Path, dtypes: tuple[str, ...] = ALL_DTYPES, external_data: ExternalData = "always",
                      seed: int = 0, validate_tokens: int = 32, **overrides) -> BundleResult:
    """:data:`TEST_MODEL` (with ``overrides``) exported to ``root/bundle`` (its checkpoint: :func:`bundle_checkpoint`)."""
    checkpoint = bundle_checkpoint(seed=seed, **overrides)
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
