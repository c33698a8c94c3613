"""``vllm serve`` for a merged base and the LoRA adapters of training configs, read from those configs.

    python -m training vllm-command --config training/configs/epicrisis-qwen2.5-1.5b-lora.yaml \\
        --merged-base /srv/models/qwen2.5-1.5b

It lives beside the configs it reads; the backend never imports it (``python -m backend vllm-command`` only
points here).
PyYAML and dataclasses only: no torch.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from training.config import load_config

VLLM_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)
"""The values vLLM accepts for --max-lora-rank."""


def vllm_serve_command(configs: list[Path], merged_base: str, adapters: dict[str, str] | None = None, *,
                       served_model_name: str = "alta-base", gpu_memory_utilization: float = 0.90,
                       port: int = 8000, host: str | None = None, tensor_parallel_size: int = 1) -> list[str]:
    """``vllm serve`` for ``merged_base`` with one LoRA adapter per training config, as argv.

    --max-lora-rank is the trained rank (rounded up to a value vLLM accepts), --max-model-len the
    longest trained sequence, --max-loras the adapter count (vLLM's default of 1 would make the tasks
    take turns), and --generation-config vllm stops the base's generation_config.json (Qwen2.5's
    repetition_penalty, top_k) from changing what the adapters were trained and evaluated with.
    """
    adapters = dict(adapters or {})
    loaded = [(path, load_config(path)) for path in configs]
    for path, cfg in loaded:
        if not cfg.lora.enabled:
            raise ValueError(f"{path} trains the whole model (lora.enabled: false): serve its final/ directory "
                             "as the model itself, with no --enable-lora")
    tasks = [cfg.data.task for _, cfg in loaded]
    if len(set(tasks)) != len(tasks):
        raise ValueError(f"two configs train the same task ({', '.join(tasks)}); give one config per task")
    bases = {cfg.model.base_model for _, cfg in loaded}
    if len(bases) > 1:
        trained_on = "; ".join(f"{path} on {cfg.model.base_model}" for path, cfg in loaded)
        raise ValueError(f"adapters trained on different bases cannot share one vLLM server ({trained_on}): run "
                         "this command once per base, one server each, and list every server in "
                         "ALTA_VLLM_BASE_URLS (each task goes to the servers whose /v1/models lists it)")
    unknown = sorted(set(adapters) - set(tasks))
    if unknown:
        raise ValueError(f"--adapter names {', '.join(unknown)}, which no --config trains ({', '.join(tasks)})")
    rank = max(cfg.lora.r for _, cfg in loaded)
    max_rank = next((r for r in VLLM_LORA_RANKS if r >= rank), None)
    if max_rank is None:
        raise ValueError(f"lora.r {rank} is above vLLM's largest --max-lora-rank ({VLLM_LORA_RANKS[-1]})")
    if not 0 < gpu_memory_utilization <= 1:
        raise ValueError("--gpu-memory-utilization is a share of the GPU's memory: above 0, at most 1")
    modules = [f"{cfg.data.task}={adapters.get(cfg.data.task, f'{cfg.train.output_dir}/final')}" for _, cfg in loaded]
    argv = ["vllm", "serve", merged_base, "--served-model-name", served_model_name,
            "--enable-lora", "--lora-modules", *modules, "--max-lora-rank", str(max_rank),
            "--max-loras", str(len(modules)), "--max-model-len", str(max(cfg.data.max_length for _, cfg in loaded)),
            "--gpu-memory-utilization", f"{gpu_memory_utilization:g}", "--generation-config", "vllm"]
    if tensor_parallel_size > 1:
        argv += ["--tensor-parallel-size", str(tensor_parallel_size)]
    if host:
        argv += ["--host", host]
    return argv + ["--port", str(port)]


def run(args: argparse.Namespace) -> int:
    adapters = {}
    for pair in args.adapter:
        task, sep, path = pair.partition("=")
        if not sep or not task or not path:
            print(f"error: --adapter {pair!r} must look like TASK=PATH", file=sys.stderr)
            return 2
        adapters[task] = path
    try:
        argv = vllm_serve_command(args.config, args.merged_base, adapters, served_model_name=args.served_model_name,
                                  gpu_memory_utilization=args.gpu_memory_utilization, port=args.port,
                                  host=args.host, tensor_parallel_size=args.tensor_parallel_size)
    except (OSError, ValueError) as exc:  # training.config.ConfigError is a ValueError
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(shlex.join(argv))
    print(f"# then point Alta at it: ALTA_VLLM_BASE_URLS='[\"http://<this host>:{args.port}\"]' and "
          "ALTA_ENGINES='[\"vllm\", \"onnx\", \"template\"]'", file=sys.stderr)
    return 0


def make_parser(prog: str = "python -m training vllm-command") -> argparse.ArgumentParser:
    vllm = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    vllm.add_argument("--config", type=Path, action="append", required=True,
                      help="an adapter's training config (repeat per task), e.g. "
                           "training/configs/epicrisis-qwen2.5-1.5b-lora.yaml")
    vllm.add_argument("--merged-base", required=True,
                      help="the full-precision base the adapters were trained on, as a path on the GPU host "
                           "(a local copy of model.base_model; never a 4-bit one)")
    vllm.add_argument("--adapter", action="append", default=[], metavar="TASK=PATH",
                      help="the adapter's directory on the GPU host (default: <train.output_dir>/final)")
    vllm.add_argument("--served-model-name", default="alta-base", help="the base model's name in /v1/models")
    vllm.add_argument("--gpu-memory-utilization", type=float, default=0.90,
                      help="share of GPU memory vLLM may take (weights plus KV cache)")
    vllm.add_argument("--tensor-parallel-size", type=int, default=1, help="GPUs of one node that share the model")
    vllm.add_argument("--host", default=None, help="interface to listen on (vLLM's default: all)")
    vllm.add_argument("--port", type=int, default=8000)
    return vllm


def main(argv: list[str] | None = None) -> int:
    return run(make_parser().parse_args(argv))
