"""``python -m clinical.fhir write-examples``: the FHIR Bundle of every example record, under
``clinical/examples/fhir/`` (``--check`` fails when a committed file differs from what the code writes)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

from clinical.contract import example_records
from clinical.fhir.bundle_out import record_to_bundle
from clinical.record import HospitalStay

FOLDER = Path(__file__).resolve().parents[1] / "examples" / "fhir"
# Each example's hospital clock on its admission day (Chile's summer and winter time, central Mexico).
OFFSETS = {"neumonia_chile": -3, "neumonia_pediatrica_chile": -4, "minimo": -4, "colecistitis_mexico": -6}


def example_bundles() -> dict[str, str]:
    out = {}
    for name, data in example_records().items():
        stay = HospitalStay.model_validate(data)
        offset = dt.timezone(dt.timedelta(hours=OFFSETS.get(name, 0)))
        bundle = record_to_bundle(stay, bundle_type="transaction", utc_offset=offset)
        out[name] = json.dumps(bundle, ensure_ascii=False, indent=2) + "\n"
    return out


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m clinical.fhir", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    write = sub.add_parser("write-examples", help="write clinical/examples/fhir/<name>.json")
    write.add_argument("--check", action="store_true", help="only compare; exit 1 when a file differs")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    stale = []
    for name, text in example_bundles().items():
        path = FOLDER / f"{name}.json"
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path.name)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if stale:
        print(f"stale FHIR examples: {', '.join(stale)}; run python -m clinical.fhir write-examples", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
