"""``python -m export bundle``: a checkpoint in, a validated Transformers.js bundle out (or the reason why not).

Exit status: 0 every requested dtype passed; 1 the bundle was written without the dtypes that
failed (listed with their reasons); 2 nothing was written.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from export.bundle import GOLDEN, BundleConfig, BundleRefused, build_bundle, summary_table
from export.graph_files import GraphFileError
from export.layout import DTYPES, LayoutError
from export.onnx_export import ExportError


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m export", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("bundle", help="export, quantise, validate and lay out a bundle",
                       description="Export a Hugging Face checkpoint to KV-cached ONNX graphs, validate each dtype "
                                   "against PyTorch on the golden prompts, and write the passing ones as a "
                                   "Transformers.js bundle with manifest.json.")
    b.add_argument("--checkpoint", type=Path, required=True,
                   help="Hugging Face checkpoint directory (adapters already merged onto the full-precision base)")
    b.add_argument("--out", type=Path, required=True, help="bundle directory to write, e.g. models/alta-epicrisis-demo")
    b.add_argument("--dtypes", default="fp32,fp16,q4,q4f16,q8",
                   help=f"comma-separated dtypes to build, from {','.join(DTYPES)} (q8 = dynamic int8: what the "
                        "page runs in WASM; q4f16 on WebGPU, q4 on the CPU engine)")
    b.add_argument("--default-dtype", default="q4",
                   help="dtype the bundle declares as default (config.json transformers.js_config.dtype); if it "
                        "fails the gate the first passing of q4, q4f16, fp16, fp32, q8 is used")
    b.add_argument("--name", help="model name in the manifest and the catalog (default: the --out directory name)")
    b.add_argument("--golden", type=Path, default=GOLDEN, help="golden vectors of the prompt contract")
    b.add_argument("--validate-tokens", type=int, default=32, help="greedy tokens compared per golden prompt")
    b.add_argument("--accuracy-level", type=int, default=4, choices=(0, 1, 2, 3, 4),
                   help="MatMulNBits accuracy_level for q4/q4f16 (4: int8 compute, the fast CPU path)")
    b.add_argument("--external-data", choices=("auto", "always", "never"), default="auto",
                   help="keep weights in <graph>.onnx_data files: auto = only when a graph would pass 2 GB")
    b.add_argument("--builder", choices=("genai", "optimum"), default="optimum",
                   help="graph builder: genai = onnxruntime-genai's model builder (GroupQueryAttention, last-row "
                        "logits, quantised tied embeddings; scales to 1.5B+ on 24 GB), optimum = optimum-onnx + "
                        "Alta's converters (the tiny test models' path)")
    b.add_argument("--gate", choices=("reference", "structural"), default="reference",
                   help="reference: every dtype against PyTorch fp32 (real weights); structural: quantised dtypes "
                        "against their own dequantised weights (random-weight exports, where logits carry no signal)")
    b.add_argument("--embedding", choices=("quantised", "float"), default="quantised",
                   help="genai builder, quantised dtypes: quantised = the tied embedding read from the lm_head's "
                        "quantised matrix, stored once (q4/q4f16: GatherBlockQuantized, which onnxruntime-web's WASM "
                        "build lacks; q8: a plain int8 Gather, which it runs); float = a float input embedding "
                        "beside the quantised lm_head, for 4-bit bundles the browser loads")
    b.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    b.add_argument("--catalog", type=Path,
                   help="register the bundle in this catalog (models/catalog.json) as the default model")
    b.add_argument("--threshold", action="append", default=[], metavar="DTYPE.FIELD=VALUE",
                   help="override a validation threshold, e.g. q4.min_top1=0.75 (recorded in the manifest; the "
                        "defaults and their reasons are in export/validate.py)")
    b.add_argument("--tasks", default="epicrisis", help="comma-separated tasks the model was trained for")
    b.add_argument("--demo", action="store_true", default=None,
                   help="mark the model as a demonstration model in the catalog (its drafts are labelled as such)")
    b.add_argument("-q", "--quiet", action="store_true", help="print the summary only")
    return parser


def parse_thresholds(items: list[str]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        dtype, dot, name = key.partition(".")
        if not (sep and dot):
            raise ValueError(f"--threshold {item!r}: write DTYPE.FIELD=VALUE, e.g. q4.min_top1=0.75")
        out.setdefault(dtype, {})[name] = float(value)
    return out


def config_from_args(args: argparse.Namespace) -> BundleConfig:
    return BundleConfig(
        checkpoint=args.checkpoint, out=args.out, dtypes=tuple(d.strip() for d in args.dtypes.split(",") if d.strip()),
        default_dtype=args.default_dtype, name=args.name, golden=args.golden, validate_tokens=args.validate_tokens,
        accuracy_level=args.accuracy_level, external_data=args.external_data, overwrite=args.overwrite,
        catalog=args.catalog, thresholds=parse_thresholds(args.threshold), tasks=tuple(t.strip() for t in args.tasks.split(",") if t.strip()), demo=args.demo,
        builder=args.builder, gate=args.gate, embedding=args.embedding)


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s", stream=sys.stdout)
    try:
        config = config_from_args(args)
        result = build_bundle(config)
    except (BundleRefused, ExportError, LayoutError, GraphFileError, FileExistsError, ValueError) as exc:
        print(f"export refused: {exc}", file=sys.stderr)
        return 2
    print()
    print(summary_table(result))
    print(f"\nbundle: {result.out} (default dtype {result.default_dtype}, version {result.manifest['version']})")
    if not result.all_passed:
        print("some dtypes failed the validation gate and were left out (see manifest.json)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
