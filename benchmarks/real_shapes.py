"""`make bench-real`: random-weight Qwen2.5-0.5B and -1.5B, exported to every dtype, in one table.

Random weights are enough for sizes, export time, peak memory and whether the graph works: the
bundle is judged by the structural gate (each quantised graph against a float graph of its own
dequantised weights; fp32 and fp16 against PyTorch), not by logits that carry no signal.

The checkpoints have the public Qwen2.5 configurations (written out below, nothing downloaded) and
the real Qwen2.5 tokenizer (``devtools.qwen_tokenizer``). Their weights are drawn one tensor at a
time and written as safetensors shards, so building a 1.5B checkpoint never holds two copies.

    python -m benchmarks.real_shapes                       # 0.5B and 1.5B, every dtype
    python -m benchmarks.real_shapes --models qwen2.5-0.5b --dtypes q4,q4f16
    python -m benchmarks.real_shapes --decode-bench        # then benchmarks.decode_bench on each bundle
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / ".cache" / "real-shapes-export"

# The public Qwen2.5 configurations (config.json of Qwen/Qwen2.5-{0.5B,1.5B}-Instruct).
_COMMON = {
    "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_act": "silu",
    "vocab_size": 151936, "max_position_embeddings": 32768, "rope_theta": 1000000.0, "rms_norm_eps": 1e-6,
    "tie_word_embeddings": True, "bos_token_id": 151643, "eos_token_id": 151645, "attention_dropout": 0.0,
    "initializer_range": 0.02, "use_cache": True, "use_sliding_window": False, "sliding_window": 32768,
    "max_window_layers": 21, "torch_dtype": "float32",
}
CONFIGS: dict[str, dict] = {
    "qwen2.5-0.5b": {**_COMMON, "hidden_size": 896, "num_hidden_layers": 24, "num_attention_heads": 14,
                     "num_key_value_heads": 2, "intermediate_size": 4864},
    "qwen2.5-1.5b": {**_COMMON, "hidden_size": 1536, "num_hidden_layers": 28, "num_attention_heads": 12,
                     "num_key_value_heads": 2, "intermediate_size": 8960},
}
SHARD_BYTES = 1 << 30


def real_shape_config(name: str, **overrides) -> dict:
    """A Qwen2.5 config by name, e.g. ``real_shape_config("qwen2.5-0.5b", num_hidden_layers=2)``."""
    return {**CONFIGS[name], **overrides}


def write_random_checkpoint(out: Path, config: dict, seed: int = 0) -> Path:
    """A loadable Qwen2 checkpoint with random weights (Qwen2's init: normal(0, 0.02), norms 1, biases 0).

    Parameter names and shapes come from the model built on the meta device; each tensor is drawn
    on its own and written into ~1 GB safetensors shards, so memory holds one shard at most.
    """
    import torch
    from safetensors.torch import save_file
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    from devtools import qwen_tokenizer

    out.mkdir(parents=True, exist_ok=True)
    cfg = Qwen2Config(**{k: v for k, v in config.items() if k != "torch_dtype"}, dtype="float32")
    with torch.device("meta"):
        shapes = {n: (tuple(p.shape)) for n, p in Qwen2ForCausalLM(cfg).state_dict().items()}
    if cfg.tie_word_embeddings:
        shapes.pop("lm_head.weight", None)
    generator = torch.Generator().manual_seed(seed)
    shards: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    weight_map: dict[str, int] = {}
    files: list[str] = []

    def flush() -> None:
        index = len(files)
        name = f"model-{index + 1:05d}.safetensors"
        save_file(shards[-1], str(out / name), metadata={"format": "pt"})
        files.append(name)
        for key in shards[-1]:
            weight_map[key] = index
        shards[-1] = {}

    for key, shape in shapes.items():
        if key.endswith("norm.weight"):
            tensor = torch.ones(shape)
        elif key.endswith(".bias"):
            tensor = torch.zeros(shape)
        else:
            tensor = torch.empty(shape).normal_(0.0, cfg.initializer_range, generator=generator)
        nbytes = tensor.numel() * 4
        if shards[-1] and size + nbytes > SHARD_BYTES:
            flush()
            size = 0
        shards[-1][key] = tensor
        size += nbytes
    flush()
    total = len(files)
    renamed = {}
    for i, name in enumerate(files):  # the names say how many shards there are, as transformers writes them
        final = f"model-{i + 1:05d}-of-{total:05d}.safetensors"
        (out / name).rename(out / final)
        renamed[i] = final
    param_bytes = sum(4 * _numel(s) for s in shapes.values())
    (out / "model.safetensors.index.json").write_text(json.dumps(
        {"metadata": {"total_size": param_bytes}, "weight_map": {k: renamed[i] for k, i in weight_map.items()}},
        indent=2) + "\n")
    cfg.save_pretrained(out)
    GenerationConfig(bos_token_id=cfg.bos_token_id, eos_token_id=cfg.eos_token_id, pad_token_id=cfg.bos_token_id,
                     do_sample=False).save_pretrained(out)
    tokenizer_dir = qwen_tokenizer.build(quiet=True)  # kept when already built
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja"):
        if (tokenizer_dir / name).is_file():
            shutil.copy(tokenizer_dir / name, out / name)
    (out / "alta_real_shape.json").write_text(json.dumps({"seed": seed, "params": param_bytes // 4}) + "\n")
    return out


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


@dataclass
class ModelRun:
    """One model's export: its manifest, the export's wall time and the peak memory of its process tree."""

    name: str
    bundle: Path
    seconds: float
    peak_rss_bytes: int  # the export process (PyTorch reference, gate sessions); builder children are per dtype
    exit_code: int
    manifest: dict | None


def checkpoint_for(name: str, layers: int | None = None) -> Path:
    """The random-weight checkpoint of ``name`` under .cache (built once, reused after)."""
    suffix = f"-{layers}l" if layers else ""
    out = WORK / f"{name}{suffix}" / "checkpoint"
    if not (out / "alta_real_shape.json").is_file():
        started = time.perf_counter()
        overrides = {"num_hidden_layers": layers} if layers else {}
        write_random_checkpoint(out, real_shape_config(name, **overrides))
        print(f"{name}{suffix}: random checkpoint written in {time.perf_counter() - started:.0f} s ({out})", flush=True)
    return out


def trimmed_checkpoint(name: str, checkpoint: Path) -> Path:
    """``checkpoint`` with the vocabulary trimmed to clinical text (``python -m training vocab trim``), once."""
    out = WORK / f"{name}-trimmed" / "checkpoint"
    if not (out / "vocab_transform.json").is_file():
        subprocess.run([sys.executable, "-m", "training", "vocab", "trim", "--src", str(checkpoint), "--out", str(out),
                        "--pad-to", "64"], cwd=REPO, check=True)
    return out


def short_golden() -> Path:
    """The prompt contract's shortest golden prompt alone (the gate's cost is its prefills: 500 vs 1,358 tokens)."""
    from export.bundle import GOLDEN

    vectors = json.loads(GOLDEN.read_text(encoding="utf-8"))
    path = WORK / "golden-shortest.json"
    WORK.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([min(vectors, key=lambda v: len(v["prompt"]))], ensure_ascii=False), encoding="utf-8")
    return path


def export_model(name: str, checkpoint: Path, dtypes: str, validate_tokens: int, builder: str,
                 all_prompts: bool = False) -> ModelRun:
    """``python -m export bundle`` in a child process (its peak memory measured by wait4)."""
    bundle = checkpoint.parent / f"bundle-{builder}"
    log = checkpoint.parent / f"export-{builder}.log"
    command = [sys.executable, "-m", "export", "bundle", "--checkpoint", str(checkpoint), "--out", str(bundle),
               "--builder", builder, "--gate", "structural", "--dtypes", dtypes, "--default-dtype", "q4",
               "--validate-tokens", str(validate_tokens), "--overwrite",
               *([] if all_prompts else ["--golden", str(short_golden())])]
    started = time.perf_counter()
    with log.open("wb") as sink:
        child = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, cwd=REPO)
        _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    manifest_path = bundle / "manifest.json"
    code = os.waitstatus_to_exitcode(status)
    manifest = json.loads(manifest_path.read_text()) if code in (0, 1) and manifest_path.is_file() else None
    if manifest is None:
        print(f"{name}: export failed (exit {code}); see {log}", file=sys.stderr)
        print("\n".join(log.read_text(errors="replace").splitlines()[-15:]), file=sys.stderr)
    run = ModelRun(name, bundle, round(seconds, 1), usage.ru_maxrss * 1024, code, manifest)
    (checkpoint.parent / f"run-{builder}.json").write_text(json.dumps(
        {"seconds": run.seconds, "peak_rss_bytes": run.peak_rss_bytes, "exit_code": code, "uptime": _uptime()}) + "\n")
    return run


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def last_run(name: str, builder: str) -> ModelRun | None:
    """The last ``make bench-real`` export of ``name`` (for ``--table``), or None."""
    folder = WORK / name
    stats_path, manifest_path = folder / f"run-{builder}.json", folder / f"bundle-{builder}" / "manifest.json"
    if not stats_path.is_file():
        return None
    stats = json.loads(stats_path.read_text())
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else None
    print(f"{name}: exported with load {stats.get('uptime', '?')}")
    return ModelRun(name, folder / f"bundle-{builder}", stats["seconds"], stats["peak_rss_bytes"], stats["exit_code"],
                    manifest)


def table(runs: list[ModelRun]) -> str:
    """One line per model and dtype: size, builder time and peak, gate verdict and its numbers."""
    lines = [f"{'model':20} {'dtype':6} {'size MB':>8} {'build s':>8} {'build GB':>9} {'cosine':>8} {'top-1':>6}  gate",
             "-" * 84]
    for run in runs:
        if run.manifest is None:
            lines.append(f"{run.name:20} export failed (exit {run.exit_code})")
            continue
        for dtype, entry in run.manifest["dtypes"].items():
            build = entry.get("build", {})
            validation = entry.get("validation", {})
            cos, top1 = validation.get("min_cosine"), validation.get("top1_agreement")
            peak = build.get("peak_rss_bytes", 0)  # 0: built from the fp32/fp16 graph an earlier dtype made
            lines.append(
                f"{run.name:20} {dtype:6} {entry['size_bytes'] / 1e6:8.1f} {build.get('seconds', 0):8.1f} "
                f"{f'{peak / 1e9:.2f}' if peak else '(shared)':>9} {cos if cos is None else f'{cos:8.5f}':>8} "
                f"{top1 if top1 is None else f'{top1:6.3f}':>6}  {entry['status']}"
                + (f" ({entry['reasons'][0][:60]})" if entry.get("reasons") else ""))
        timings = run.manifest["export"].get("timings_s", {})
        ref = next((v for k, v in timings.items() if k.startswith("PyTorch reference")), 0.0)
        lines.append(f"{run.name:20} all    export {run.seconds:.0f} s (PyTorch reference {ref:.0f} s), "
                     f"peak {run.peak_rss_bytes / 1e9:.2f} GB (largest process: export or builder), exit {run.exit_code}")
    return "\n".join(lines)


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.real_shapes", description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(CONFIGS), help=f"comma-separated, from {','.join(CONFIGS)}")
    parser.add_argument("--dtypes", default="fp32,fp16,q4,q4f16,q8", help="dtypes to export")
    parser.add_argument("--layers", type=int, help="override the layer count (a quick run; sizes not the model's)")
    parser.add_argument("--validate-tokens", type=int, default=8, help="greedy tokens per golden prompt in the gate")
    parser.add_argument("--builder", default="genai", choices=("genai", "optimum"))
    parser.add_argument("--all-prompts", action="store_true",
                        help="gate on every golden prompt (default: the shortest one; the gate is then 4x faster)")
    parser.add_argument("--trimmed", action="store_true",
                        help="export the vocabulary-trimmed checkpoint (training vocab trim) instead of the full one")
    parser.add_argument("--table", action="store_true",
                        help="print the table of the last exports of --models (no export; make bench-real's last step)")
    parser.add_argument("--decode-bench", action="store_true",
                        help="then run benchmarks.decode_bench on the 0.5B bundle (CPU decode, Alta vs onnxruntime-genai)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    runs = []
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    if args.table:
        wanted = [v for n in names for v in (n, f"{n}-trimmed")]
        runs = [r for r in (last_run(n, args.builder) for n in wanted) if r is not None]
        names = []
    for name in names:
        checkpoint = checkpoint_for(name, args.layers)
        if args.trimmed:
            checkpoint, name = trimmed_checkpoint(name, checkpoint), f"{name}-trimmed"
        print(f"{name}: exporting {args.dtypes} with the {args.builder} builder ...", flush=True)
        runs.append(export_model(name, checkpoint, args.dtypes, args.validate_tokens, args.builder, args.all_prompts))
    print(f"\nReal-shape exports (random weights, structural gate), {os.cpu_count()} CPUs; uptime now: {_uptime()}\n")
    print(table(runs))
    if args.decode_bench:
        bundle = next((r.bundle for r in runs if r.name == "qwen2.5-0.5b" and r.manifest), None)
        if bundle is None:
            print("decode bench skipped: no qwen2.5-0.5b bundle in this run", file=sys.stderr)
        else:
            subprocess.run([sys.executable, "-m", "benchmarks.decode_bench", "--alta-bundle", str(bundle)],
                           cwd=REPO, check=False)
    return 0 if all(r.exit_code == 0 for r in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
