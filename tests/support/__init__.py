"""What the tests share: Hypothesis strategies for records (``strategies``, ``fhir_strategies``), the
translation stand-ins (``translation``), the tiny-model fixtures (``tiny_models``), and, under the name
tests use, the tooling they share with the benchmarks (``devtools``: the live server, the repository)."""

from devtools import REPO, LiveServer, free_port

__all__ = ["REPO", "LiveServer", "free_port"]
