"""The key of a cached chunk translation: everything that, changed, would change the translation."""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources

from clinical.contract import CONTRACT_VERSION

__all__ = ["cache_key", "glossary_version"]


@cache
def glossary_version() -> str:
    """The first 16 hex digits of the packaged glossary's sha256: its hints are part of every prompt,
    so an edited glossary must not reuse translations made with the old one."""
    data = resources.files("clinical.glossary").joinpath("glossary.tsv").read_bytes()
    return hashlib.sha256(data).hexdigest()[:16]


def cache_key(deidentified_chunk: str, model: str, model_version: str) -> str:
    """sha256 of the de-identified chunk, the model and its version, the prompt contract's version
    and the glossary's version, each field length-prefixed so no two tuples share a key."""
    digest = hashlib.sha256()
    for part in (deidentified_chunk, model, model_version, CONTRACT_VERSION, glossary_version()):
        data = part.encode("utf-8")
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()
