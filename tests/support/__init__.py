"""Test support: the tooling tests share with the benchmarks (``devtools``), under the name tests use."""

from devtools import REPO, LiveServer, free_port

__all__ = ["REPO", "LiveServer", "free_port"]
