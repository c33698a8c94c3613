"""Fixtures every test directory may use (the shared tooling itself lives in tests/support/)."""

from tests.support.tiny_models import tiny_qwen2, tiny_qwen2_untied  # noqa: F401  (pytest finds fixtures here)
