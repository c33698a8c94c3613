"""Formats that cross package and language borders are defined once (clinical.model_bundle,
models/contract/record.schema.json) and both sides read that one definition."""
from __future__ import annotations

import json
import subprocess
import sys

from clinical.contract import record_schema
from clinical.model_bundle import BundleManifest, Catalog, CatalogEntry
from tests.support import REPO


def test_the_published_record_schema_is_the_records():
    published = json.loads((REPO / "models/contract/record.schema.json").read_text(encoding="utf-8"))
    assert published == record_schema(), "regenerate it: python -m clinical.contract write-golden"


def test_the_shipped_manifest_and_catalog_round_trip_through_the_models():
    manifest = json.loads((REPO / "models/demo-onnx/manifest.json").read_text(encoding="utf-8"))
    assert BundleManifest.model_validate(manifest).model_dump(exclude_unset=True) == manifest
    catalog = json.loads((REPO / "models/catalog.json").read_text(encoding="utf-8"))
    assert Catalog.model_validate(catalog).model_dump(mode="json", exclude_unset=True) == catalog


def test_backend_and_export_use_the_one_definition():
    from backend.engines import bundle as served
    from export import catalog, manifest

    assert served.CatalogEntry is CatalogEntry
    assert served.MANIFEST == manifest.MANIFEST and served.BUNDLE_FORMAT == manifest.FORMAT
    assert served.CATALOG_FORMAT == catalog.CATALOG_FORMAT


def test_the_format_module_is_safe_for_the_serve_install():
    code = "import sys, clinical.model_bundle; print(sorted({'torch', 'onnx', 'transformers'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
