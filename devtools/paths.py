"""Where the repository is, for tools that run from a checkout."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
