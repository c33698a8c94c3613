"""Command line: ``python -m clinical.deid train | crossval | annotate | evaluate | gazetteer | geo``.

    python -m clinical.deid train --train third_party/meddocan/train --out models/deid/
    python -m clinical.deid crossval --folds 2 --errors build/deid-crossval/errors.jsonl
    python -m clinical.deid annotate --in DIR --out DIR --format brat
    python -m clinical.deid evaluate --data third_party/meddocan/dev --json models/deid/eval_dev.json
    python -m clinical.deid gazetteer   # rebuild clinical/deid/data/person_names.tsv and places.tsv
    python -m clinical.deid geo         # rebuild clinical/deid/data/geo.tsv (pip install -e '.[gazetteer]')
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from clinical.deid.analyzer import Analyzer
from clinical.deid.corpus.brat import format_ann, read_corpus
from clinical.deid.corpus.evaluate import evaluate, format_table, write_json
from clinical.deid.crf.recognizer import DEFAULT_MODEL_PATH
from clinical.deid.crf.training import TrainConfig, train
from clinical.deid.names.gazetteer_build import (
    GazetteerConfig,
    build_gazetteer,
    build_places,
    write_gazetteer,
    write_places,
)
from clinical.deid.readable import keep_readable

logger = logging.getLogger("clinical.deid")


# What counts as PHI: MEDDOCAN's guidelines (bare kinship terms, descriptions of the patient, sex
# and every age included), or Alta's de-identification for translation (clinical.deid.readable).
PROFILES = {"meddocan": True, "translation": False}


def _add_config_arguments(parser: argparse.ArgumentParser, config_class: type) -> None:
    for config_field in dataclasses.fields(config_class):
        parser.add_argument(
            "--" + config_field.name.replace("_", "-"),
            type=Path if config_field.type in (Path, "Path") else type(config_field.default),
            default=config_field.default,
            help=config_field.metadata.get("help"),
        )


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m clinical.deid", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    train_parser = commands.add_parser("train", help="train the CRF recogniser on a BRAT corpus")
    _add_config_arguments(train_parser, TrainConfig)

    crossval_parser = commands.add_parser("crossval", help="k-fold cross-validation on the training corpus")
    _add_config_arguments(crossval_parser, TrainConfig)
    crossval_parser.set_defaults(out=Path("build/deid-crossval"))
    crossval_parser.add_argument("--folds", type=int, default=2, help="number of folds (document i is in fold i %% k)")
    crossval_parser.add_argument("--errors", type=Path, default=None,
                                 help="also write every missed and wrong span with its context (JSON lines)")

    gazetteer_parser = commands.add_parser("gazetteer", help="build the name and place gazetteers")
    _add_config_arguments(gazetteer_parser, GazetteerConfig)

    geo_parser = commands.add_parser("geo", help="build the town/region/country gazetteer of the CRF's features")
    geo_parser.add_argument("--out", type=Path, default=Path("clinical/deid/data/geo.tsv"), help="TSV to write")

    annotate = commands.add_parser("annotate", help="write a BRAT .ann with MEDDOCAN types for every .txt")
    annotate.add_argument("--in", dest="input", type=Path, required=True, help="folder of .txt files")
    annotate.add_argument("--out", type=Path, required=True, help="folder for the .ann files (created)")
    annotate.add_argument("--format", choices=["brat"], default="brat", help="output format")
    annotate.add_argument("--model", type=Path, default=DEFAULT_MODEL_PATH, help="CRF model file")

    evaluate_parser = commands.add_parser("evaluate", help="strict span+type scores on a BRAT corpus")
    evaluate_parser.add_argument("--data", type=Path, default=Path("third_party/meddocan/dev"),
                                 help="BRAT folder with gold .ann files")
    evaluate_parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_PATH, help="CRF model file")
    evaluate_parser.add_argument("--json", type=Path, default=None, help="also write the scores here")
    evaluate_parser.add_argument("--crf-only", action="store_true",
                                 help="score the CRF alone: no rules, no propagation")
    evaluate_parser.add_argument("--profile", choices=sorted(PROFILES), default="meddocan",
                                 help="meddocan: the corpus guidelines (bare kinship terms are PHI); "
                                      "translation: what deidentify() masks (they are not)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.command == "train":
        config = TrainConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)})
        train(config)
    elif args.command == "gazetteer":
        gazetteer_config = GazetteerConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(GazetteerConfig)})
        write_gazetteer(build_gazetteer(gazetteer_config), gazetteer_config.out)
        write_places(build_places(gazetteer_config), gazetteer_config.places_out)
        logger.info("wrote %s and %s", gazetteer_config.out, gazetteer_config.places_out)
    elif args.command == "crossval":
        from clinical.deid.corpus.crossval import crossvalidate

        config = TrainConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)})
        print(format_table(crossvalidate(config, args.folds, args.out, args.errors)))
    elif args.command == "geo":
        from clinical.deid.places.geo_build import build_geo, write_geo

        rows = build_geo()
        write_geo(rows, args.out)
        logger.info("wrote %d places to %s", len(rows), args.out)
    elif args.command == "annotate":
        analyzer = Analyzer.with_model(args.model)
        args.out.mkdir(parents=True, exist_ok=True)
        texts = sorted(args.input.glob("*.txt"))
        if not texts:
            logger.error("no .txt files in %s", args.input)
            return 1
        for path in texts:
            with path.open(encoding="utf-8", newline="") as handle:
                text = handle.read()
            spans = analyzer.analyze(text)
            (args.out / (path.stem + ".ann")).write_text(format_ann(text, spans), encoding="utf-8")
        logger.info("annotated %d documents into %s", len(texts), args.out)
    elif args.command == "evaluate":
        if args.crf_only:
            from clinical.deid.crf.recognizer import CrfRecognizer

            analyzer = Analyzer([CrfRecognizer(args.model)], propagate_mentions=False,
                                kinship_terms=PROFILES[args.profile])
        else:
            analyzer = Analyzer.with_model(args.model, kinship_terms=PROFILES[args.profile])
        # The translation profile leaves some of MEDDOCAN's PHI readable on purpose: its leak rate
        # counts what it must mask, the gold spans that keep_readable keeps.
        must_mask = None if PROFILES[args.profile] else (
            lambda text, gold: keep_readable(text, gold, analyzer.gazetteer))
        result = evaluate(read_corpus(args.data), analyzer.analyze, must_mask).to_dict()
        print(format_table(result))
        if args.json:
            write_json(result, args.json, model=args.model.name, data=str(args.data), profile=args.profile,
                       pipeline="crf" if args.crf_only else "rules+names+crf+consistency")
    return 0


if __name__ == "__main__":
    sys.exit(main())
