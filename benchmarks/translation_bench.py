"""Translation figures: chrF and BLEU, term accuracy, placeholder round-trip, pages per minute.

    python -m benchmarks.translation_bench [--notes 200] [--pages 10] [--model-sentences 100] [--json PATH]
    make bench-translation

- quality: sacrebleu chrF and BLEU on the TICO-19 **dev** split es-LA -> en (965 sentences, CC0,
  ``third_party/tico19-dev``) for raw Apertium (``apertium -u spa-eng``), Apertium with Alta's
  terminology (the ``apertium`` engine: glossary and CIE-10 terms enforced, unknown words, English
  conventions), and any model engine configured here that translates (ALTA_ENGINES and the model
  catalog, as the server would build them);
- term accuracy: the share of glossary terms in a source sentence rendered with an accepted English
  form (``clinical.glossary.term_accuracy``), over the sentences that have one, next to what the
  human reference scores on the same measure;
- placeholder round-trip: generated notes with planted PHI through the whole pipeline
  (de-identify, Apertium, placeholder check, re-identify): notes whose every placeholder came back
  once and whose every planted value is restored exactly;
- pages per minute: 1,800-character pages of generated notes through the whole pipeline.

The dev split tuned the rules: its figures are development figures, not held-out ones.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import random
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import sacrebleu

from backend.core.config import Settings
from backend.engines.apertium import ApertiumEngine, installed_modes
from backend.engines.base import Engine, GenerationParams
from backend.engines.registry import build_registry
from clinical.contract import translation_messages
from clinical.glossary import hints, load_glossary
from clinical.translate import Answer, TranslationError, translate_document
from devtools.phi_notes import GIVEN, SURNAMES, rut

DEV = Path(__file__).resolve().parent.parent / "third_party" / "tico19-dev" / "dev.es-LA.tsv"
PAGE_CHARS = 1800


@dataclass
class Quality:
    system: str
    sentences: int
    chrf: float
    bleu: float
    term_accuracy: float
    seconds: float


def read_dev(path: Path = DEV) -> tuple[list[str], list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [r["es"] for r in rows], [r["en"] for r in rows]


def term_accuracy(sources: list[str], outputs: list[str]) -> float:
    glossary = load_glossary()
    scores = [glossary.term_accuracy(s, o) for s, o in zip(sources, outputs, strict=True) if glossary.find(s)]
    return statistics.fmean(scores) if scores else 1.0


def score(system: str, sources: list[str], outputs: list[str], references: list[str], seconds: float) -> Quality:
    return Quality(system, len(outputs), sacrebleu.corpus_chrf(outputs, [references]).score,
                   sacrebleu.corpus_bleu(outputs, [references]).score, term_accuracy(sources, outputs), seconds)


def apertium_raw(sources: list[str], mode: str = "spa-eng") -> list[str]:
    done = subprocess.run(["apertium", "-u", mode], input="\n".join(sources) + "\n", capture_output=True,
                          text=True, check=True)
    return done.stdout.rstrip("\n").split("\n")


def apertium_engine(sources: list[str], engine: ApertiumEngine) -> list[str]:
    return asyncio.run(engine.translate("\n".join(sources) + "\n")).rstrip("\n").split("\n")


def model_engines() -> list[Engine]:
    """The configured engines that translate, other than Apertium, and healthy now."""
    settings = Settings()
    try:
        registry = build_registry(settings.engine_order, settings)
    except Exception as exc:  # noqa: BLE001 - a benchmark reports what it cannot build and goes on
        print(f"(configured engines could not be built: {type(exc).__name__}: {exc})")
        return []
    engines = [e for e in registry.for_task("translation") if e.name != "apertium"]
    return [e for e in engines if asyncio.run(e.health()).healthy]


def model_outputs(engine: Engine, sources: list[str]) -> list[str]:
    async def run() -> list[str]:
        outputs = []
        for source in sources:
            messages = translation_messages(source, hints(source))
            completion = await engine.complete(messages, "translation", GenerationParams(max_new_tokens=256))
            outputs.append(" ".join(completion.text.split()))
        return outputs

    return asyncio.run(run())


# --- generated notes: placeholder round-trip and pages per minute -------------------------------------

CLINICAL = [
    "Ingresa por neumonía adquirida en la comunidad; se indica ceftriaxona 2 g al día.",
    "Antecedentes de HTA y DM2 en tratamiento con metformina 850 mg cada 12 horas.",
    "Se realiza ECO TV que muestra endometrio de 8 mm.",
    "Recibió paracetamol 1 g cada 8 horas y heparina de bajo peso molecular.",
    "Evoluciona afebril, sin dolor, con buena tolerancia oral.",
    "Control en CESFAM en 7 días con exámenes. PCR 120 mg/L, leucocitos 15.000.",
    "Pcte con DG de IAM, TTO con ácido acetil-salicílico y atorvastatina 40 mg.",
    "Diagnóstico de egreso: J18.9 Neumonía, no especificada.",
]



def generated_note(rng: random.Random) -> tuple[str, list[str]]:
    name = f"{rng.choice(GIVEN)} {rng.choice(SURNAMES)} {rng.choice(SURNAMES)}"
    run, phone = rut(rng.randint(5_000_000, 25_000_000)), f"+56 9 {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}"
    text = (f"Nombre: {name}. RUT: {run}.\nPaciente de {rng.randint(18, 99)} años, ingresa el "
            f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/{rng.randint(2015, 2026)}.\n"
            + " ".join(rng.sample(CLINICAL, 3)) + f"\nSe contacta al {phone}.")
    return text, [run, phone]


async def _complete_with(engine: ApertiumEngine):
    async def complete(messages, *, attempt: int) -> Answer:
        return Answer((await engine.complete(messages, "translation")).text)
    return complete


def placeholder_round_trip(engine: ApertiumEngine, notes: int, seed: int = 14) -> dict[str, float]:
    rng = random.Random(seed)
    complete = asyncio.run(_complete_with(engine))
    kept = restored = placeholders = 0
    for _ in range(notes):
        text, planted = generated_note(rng)
        try:
            result = asyncio.run(translate_document(text, complete, retries=0))
        except TranslationError:
            continue
        kept += 1
        placeholders += result.placeholders
        restored += all(result.text.count(v) == text.count(v) for v in planted)
    return {"notes": notes, "placeholders_kept": kept / notes, "phi_restored": restored / notes,
            "placeholders_per_note": placeholders / max(kept, 1)}


def pages_per_minute(engine: ApertiumEngine, pages: int, seed: int = 15) -> dict[str, float]:
    rng = random.Random(seed)
    parts, size = [], 0
    while size < pages * PAGE_CHARS:
        text, _ = generated_note(rng)
        parts.append(text)
        size += len(text) + 2
    document = "\n\n".join(parts)
    complete = asyncio.run(_complete_with(engine))
    started = time.perf_counter()
    asyncio.run(translate_document(document, complete))
    pipeline = time.perf_counter() - started
    started = time.perf_counter()
    asyncio.run(engine.translate(document))
    engine_only = time.perf_counter() - started
    n = len(document) / PAGE_CHARS
    return {"pages": round(n, 1), "pages_per_minute": n / pipeline * 60,
            "engine_only_pages_per_minute": n / engine_only * 60}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=200, help="generated notes for the placeholder round-trip")
    parser.add_argument("--pages", type=int, default=10, help="pages of generated notes to time")
    parser.add_argument("--model-sentences", type=int, default=100,
                        help="dev sentences a model engine translates (models are slow on CPU)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    if "spa-eng" not in installed_modes():
        print("apertium spa-eng is not installed: scripts/system-deps.sh run", file=sys.stderr)
        return 2

    sources, references = read_dev()
    print(f"TICO-19 dev es-LA -> en: {len(sources)} sentences (development figures: the rules were tuned on it)")
    rows: list[Quality] = []
    started = time.perf_counter()
    rows.append(score("apertium raw", sources, apertium_raw(sources), references, time.perf_counter() - started))
    engine = ApertiumEngine()
    started = time.perf_counter()
    rows.append(score("apertium + terminology", sources, apertium_engine(sources, engine), references,
                      time.perf_counter() - started))
    rows.append(Quality("human reference", len(references), 100.0, 100.0, term_accuracy(sources, references), 0.0))
    models = model_engines()
    for model in models:
        subset, refs = sources[: args.model_sentences], references[: args.model_sentences]
        started = time.perf_counter()
        rows.append(score(f"{model.name} ({model.model})", subset, model_outputs(model, subset), refs,
                          time.perf_counter() - started))
        raw_subset = score("  apertium raw, same sentences", subset, apertium_raw(subset), refs, 0.0)
        rows.append(raw_subset)
    print(f"{'system':<32} {'n':>5} {'chrF':>6} {'BLEU':>6} {'terms':>6} {'s':>7}")
    for row in rows:
        print(f"{row.system:<32} {row.sentences:>5} {row.chrf:>6.1f} {row.bleu:>6.1f} {row.term_accuracy:>6.1%} "
              f"{row.seconds:>7.2f}")
    if not models:
        print("(no model engine that translates is configured here: ALTA_ENGINES / models/catalog.json)")

    trip = placeholder_round_trip(engine, args.notes)
    print(f"placeholder round-trip: {trip['notes']} generated notes, all placeholders back once in "
          f"{trip['placeholders_kept']:.1%}, every planted RUT and phone restored exactly in {trip['phi_restored']:.1%} "
          f"({trip['placeholders_per_note']:.1f} placeholders a note)")
    speed = pages_per_minute(engine, args.pages)
    print(f"speed: {speed['pages_per_minute']:.0f} pages/min through the whole pipeline (de-identify, Apertium, "
          f"check, re-identify; {PAGE_CHARS}-character pages, {speed['pages']} pages), "
          f"{speed['engine_only_pages_per_minute']:.0f} pages/min Apertium engine alone")
    if args.json:
        args.json.write_text(json.dumps({"quality": [asdict(r) for r in rows], "round_trip": trip, "speed": speed},
                                        indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
