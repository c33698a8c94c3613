"""CPU decode side by side on the Qwen2.5-0.5B shape: PyTorch eager, Alta's engine, onnxruntime-genai.

Random weights with the exact public Qwen2.5-0.5B configuration and the real Qwen2.5 tokenizer
(``devtools.qwen_tokenizer``), so the figures are the real model's speed (random weights carry no
text, only time). Side by side, same checkpoint, same threads: PyTorch eager; Alta's decode loop
(``backend.engines.decoding.KVDecoder``) on Alta's own q4 export and on onnxruntime-genai's int4
GroupQueryAttention graphs (with every prompt row's logits, and with the last row only); and
onnxruntime-genai's own runtime on the same graphs. Timed: run it under the shared lock.

    flock /tmp/alta-heavy.lock python -m benchmarks.decode_bench            # make bench-decode
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from devtools.paths import REPO

REAL_SHAPES = REPO / ".cache" / "real-shapes"
QWEN25_05B = {  # Qwen/Qwen2.5-0.5B-Instruct config.json
    "hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24, "num_attention_heads": 14,
    "num_key_value_heads": 2, "vocab_size": 151_936, "tie_word_embeddings": True, "rope_theta": 1_000_000.0,
    "max_position_embeddings": 32_768, "rms_norm_eps": 1e-6, "hidden_act": "silu", "max_window_layers": 21,
    "sliding_window": 32_768, "use_sliding_window": False, "bos_token_id": 151_643, "eos_token_id": 151_645,
}


def real_checkpoint(out: Path = REAL_SHAPES / "qwen2.5-0.5b", seed: int = 0) -> Path:
    """A random-weight Qwen2.5-0.5B checkpoint with the real tokenizer (reused when already there)."""
    if (out / "model.safetensors").is_file() and (out / "tokenizer.json").is_file():
        return out
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    from devtools import qwen_tokenizer

    tokenizer = qwen_tokenizer.load()
    torch.manual_seed(seed)
    config = Qwen2Config(**QWEN25_05B, pad_token_id=151_643, dtype="float32")
    model = Qwen2ForCausalLM(config).eval()
    staging = out.with_name(out.name + ".partial")
    staging.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(staging, safe_serialization=True)
    GenerationConfig(bos_token_id=151_643, eos_token_id=[151_645, 151_643], pad_token_id=151_643,
                     do_sample=False).save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    (staging / "alta_real_shape.json").write_text(json.dumps({"shape": "Qwen2.5-0.5B", "seed": seed}) + "\n")
    staging.rename(out)
    return out


# --- the graphs --------------------------------------------------------------------------------

def genai_graph(checkpoint: Path, out: Path, last_row: bool) -> Path:
    """onnxruntime-genai's builder: int4 (MatMulNBits, accuracy_level 4) with GroupQueryAttention;
    ``last_row`` prunes the LM head to the last position (``prune_lm_head``). The builder runs through
    ``export.genai_run``, its bridge to the project's transformers 4.57."""
    if (out / "model.onnx").is_file():
        return out
    command, env = [sys.executable, "-m", "export.genai_run"], dict(os.environ)
    extra = ["--extra_options", "prune_lm_head=true"] if last_row else []
    subprocess.run([*command, "-m", str(checkpoint), "-o", str(out), "-p", "int4", "-e", "cpu",
                    "-c", str(REAL_SHAPES / "genai-cache"), *extra], env=env, check=True, stdout=subprocess.DEVNULL)
    return out


def alta_graph(checkpoint: Path, bundle: Path) -> Path:
    """Alta's own export (``python -m export bundle --dtypes q4``), gated on nothing: random weights carry
    no text for the gate to judge (about 11 minutes for the 0.5B shape)."""
    graph = bundle / "onnx" / "model_q4.onnx"
    if graph.is_file():
        return graph
    loose = [f"--threshold=q4.{k}" for k in ("min_top1=0", "min_cosine=-1", "max_rel_abs=1e9", "max_mean_kl=1e9")]
    subprocess.run([sys.executable, "-m", "export", "bundle", "--checkpoint", str(checkpoint), "--out", str(bundle),
                    "--dtypes", "q4", "--validate-tokens", "4", "--overwrite", *loose], check=True)
    return graph


# --- the runs ----------------------------------------------------------------------------------

@dataclass
class Run:
    engine: str
    graph: str
    threads: int
    ttft_s: float
    decode_tps: float
    tokens: int
    best_tps: float = 0.0


def prompt_ids(checkpoint: Path, length: int) -> list[int]:
    """``length`` tokens of the prompt contract's epicrisis prompts, as the real tokenizer cuts them."""
    from tokenizers import Tokenizer

    from clinical.contract import GOLDEN_TODAY, epicrisis_prompt, example_records
    from clinical.record import HospitalStay

    tokenizer = Tokenizer.from_file(str(checkpoint / "tokenizer.json"))
    ids: list[int] = []
    for raw in example_records().values():
        stay = HospitalStay.model_validate(raw, context={"today": GOLDEN_TODAY})
        ids += tokenizer.encode(epicrisis_prompt(stay), add_special_tokens=False).ids
    while len(ids) < length:
        ids += ids
    return ids[:length]


def timed(tokens: Iterator[int], new_tokens: int) -> tuple[float, float, int]:
    """TTFT, then tokens per second over the rest (the decode rate), from a token iterator."""
    start = time.perf_counter()
    first = None
    count = 0
    for _ in tokens:
        count += 1
        if first is None:
            first = time.perf_counter()
        if count >= new_tokens:
            break
    end = time.perf_counter()
    assert first is not None
    return first - start, (count - 1) / (end - first) if count > 1 else 0.0, count


def torch_tokens(model, prompt: list[int]) -> Iterator[int]:  # noqa: ANN001
    import torch

    with torch.inference_mode():
        out = model(torch.tensor([prompt]), use_cache=True)
        while True:
            token = int(out.logits[0, -1].argmax())
            yield token
            out = model(torch.tensor([[token]]), past_key_values=out.past_key_values, use_cache=True)


def run_torch(checkpoint: Path, prompt: list[int], new_tokens: int, threads: int) -> Run:
    import torch
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(threads)
    model = AutoModelForCausalLM.from_pretrained(checkpoint, dtype=torch.float32).eval()
    timed(torch_tokens(model, prompt[:8]), 2)
    ttft, tps, n = timed(torch_tokens(model, prompt), new_tokens)
    return Run("PyTorch eager fp32", checkpoint.name, threads, ttft, tps, n)


def alta_contender(graph: Path, threads: int, head_dim: int, label: str):  # noqa: ANN201
    """(engine, graph label, token iterator factory) for Alta's loop on ``graph``."""
    from backend.engines.decoding import KVDecoder, SamplingParams, cpu_session

    decoder = KVDecoder(cpu_session(graph, threads), 32_768, 0, head_dim)
    kind = "GQA, shared cache" if decoder.shared_cache else "cache concatenated per step"
    return ("Alta KVDecoder (ORT)", f"{label} [{kind}]",
            lambda prompt, n: decoder.tokens(prompt, SamplingParams(max_new_tokens=n)))


def genai_tokens(model, prompt: list[int], new_tokens: int) -> Iterator[int]:  # noqa: ANN001
    import onnxruntime_genai as og

    params = og.GeneratorParams(model)
    params.set_search_options(max_length=len(prompt) + new_tokens, min_length=len(prompt) + new_tokens,
                              do_sample=False)
    generator = og.Generator(model, params)
    generator.append_tokens(prompt)
    while not generator.is_done():
        generator.generate_next_token()
        yield int(generator.get_next_tokens()[0])


def genai_contender(graph_dir: Path, threads: int, label: str):  # noqa: ANN201
    import onnxruntime_genai as og

    config = og.Config(str(graph_dir))
    config.clear_providers()
    config.overlay(json.dumps({"model": {"decoder": {"session_options": {"intra_op_num_threads": threads}}}}))
    model = og.Model(config)
    return "onnxruntime-genai", label, lambda prompt, n: genai_tokens(model, prompt, n)


def interleaved(contenders: list, prompt: list[int], new_tokens: int, threads: int, repeats: int) -> list[Run]:
    """Each contender warmed up, then ``repeats`` rounds of one timed run each, in turn, so that the
    machine's load falls on all of them alike; the median run (by decode rate) of each is kept."""
    for _engine, _label, tokens in contenders:
        timed(tokens(prompt[:8], 4), 4)
    results: list[list[tuple[float, float, int]]] = [[] for _ in contenders]
    for _ in range(repeats):
        for i, (_engine, _label, tokens) in enumerate(contenders):
            results[i].append(timed(tokens(prompt, new_tokens), new_tokens))
    runs = []
    for (engine, label, _tokens), timings in zip(contenders, results, strict=True):
        ordered = sorted(timings, key=lambda r: r[1])
        runs.append(Run(engine, label, threads, *ordered[len(ordered) // 2], best_tps=ordered[-1][1]))
    return runs


def load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def table(runs: list[Run]) -> str:
    lines = ["| engine | graph | threads | TTFT s | decode tok/s (median) | best | vs genai (median) |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for r in runs:
        peer = next((p.decode_tps for p in runs if p.engine == "onnxruntime-genai" and p.threads == r.threads
                     and p.graph.endswith("full")), 0.0)
        ratio = f"{r.decode_tps / peer:.2f}x" if peer else "-"
        best = f"{r.best_tps:.1f}" if r.best_tps else "-"
        lines.append(f"| {r.engine} | {r.graph} | {r.threads} | {r.ttft_s:.2f} | {r.decode_tps:.1f} | {best} | {ratio} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", default="1,2", help="comma-separated intra-op thread counts")
    parser.add_argument("--prompt-tokens", type=int, default=500)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed rounds over the ONNX engines, interleaved (the median is reported, and the best)")
    parser.add_argument("--alta-bundle", type=Path, default=REAL_SHAPES / "qwen2.5-0.5b-alta",
                        help="Alta's q4 bundle of the checkpoint (exported when missing)")
    parser.add_argument("--skip", default="", help="comma-separated: torch, alta, alta-gqa, genai")
    args = parser.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    checkpoint = real_checkpoint()
    head_dim = QWEN25_05B["hidden_size"] // QWEN25_05B["num_attention_heads"]
    full = genai_graph(checkpoint, REAL_SHAPES / "qwen2.5-0.5b-genai-int4-full", last_row=False)
    last = genai_graph(checkpoint, REAL_SHAPES / "qwen2.5-0.5b-genai-int4-last", last_row=True)
    alta = None if "alta" in skip else alta_graph(checkpoint, args.alta_bundle)
    prompt = prompt_ids(checkpoint, args.prompt_tokens)
    print(f"Qwen2.5-0.5B shape, random weights; {len(prompt)}-token prompt, {args.new_tokens} new tokens, greedy")
    print(f"before: {load()}")
    runs: list[Run] = []
    for threads in (int(t) for t in args.threads.split(",")):
        if "torch" not in skip:
            runs.append(run_torch(checkpoint, prompt, args.new_tokens, threads))
        contenders = []
        if alta is not None:
            contenders.append(alta_contender(alta, threads, head_dim, f"{args.alta_bundle.name} q4"))
        if "alta-gqa" not in skip:
            contenders += [alta_contender(full / "model.onnx", threads, head_dim, "genai int4, full"),
                           alta_contender(last / "model.onnx", threads, head_dim, "genai int4, last")]
        if "genai" not in skip:
            contenders += [genai_contender(full, threads, "genai int4, full"),
                           genai_contender(last, threads, "genai int4, last")]
        runs += interleaved(contenders, prompt, args.new_tokens, threads, args.repeats)
        del contenders
        print(runs[-1], flush=True)
    print(table(runs))
    print(f"after: {load()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
