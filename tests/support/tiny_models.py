"""Fixtures: the tiny Qwen2 checkpoints with the real Qwen2.5 tokenizer (``devtools.tiny_models``).

They are built once into ``.cache/tiny-models/`` and shared by every test and benchmark: treat the
directories as read-only (``devtools.tiny_models.copy_of`` gives a writable copy).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools.tiny_models import tiny_model


@pytest.fixture(scope="session")
def tiny_qwen2() -> Path:
    """``qwen2.5-tiny``: hidden 16, 2 layers, GQA 4/2, tied, 151,936 embedding rows."""
    return tiny_model("qwen2.5-tiny")


@pytest.fixture(scope="session")
def tiny_qwen2_untied() -> Path:
    """``qwen2.5-tiny-untied``: the export tests' model (varied text; every dtype passes the gate)."""
    return tiny_model("qwen2.5-tiny-untied")
