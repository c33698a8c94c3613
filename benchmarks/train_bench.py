"""Training throughput of the demo model's architecture on this machine (tokens per second).

Times full fine-tuning steps (forward, backward, AdamW) on batches of the demo's sequence length,
after two warm-up steps. Reads the shipped demo model's config when it exists.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from transformers import Qwen2Config, Qwen2ForCausalLM

from training.demo import DemoSpec


def demo_config() -> tuple[Qwen2Config, str]:
    shipped = Path("models/demo/config.json")
    if shipped.exists():
        config = Qwen2Config.from_dict(json.loads(shipped.read_text()))
        config.dtype = "float32"
        return config, "models/demo"
    spec = DemoSpec()
    return Qwen2Config(vocab_size=spec.vocab_size, hidden_size=spec.hidden, intermediate_size=spec.intermediate,
                       num_hidden_layers=spec.layers, num_attention_heads=spec.heads,
                       num_key_value_heads=spec.kv_heads, tie_word_embeddings=True), "DemoSpec (not trained yet)"


def measure(config: Qwen2Config, batch: int, length: int, steps: int) -> tuple[float, float]:
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    ids = torch.randint(0, config.vocab_size, (batch, length))
    for step in range(steps + 2):
        if step == 2:
            started = time.perf_counter()
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    seconds = (time.perf_counter() - started) / steps
    return batch * length / seconds, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.train_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--lengths", type=int, nargs="+", default=[512, 1024])
    args = parser.parse_args(argv)
    config, source = demo_config()
    params = sum(p.numel() for p in Qwen2ForCausalLM(config).parameters())
    print(f"\nDemo-model training throughput ({source}: {params / 1e6:.1f}M parameters, fp32, "
          f"{torch.get_num_threads()} CPU threads, batch {args.batch})")
    print(f"{'seq len':>8}{'tokens/s':>11}{'s/step':>9}")
    for length in args.lengths:
        tokens_per_s, seconds = measure(config, args.batch, length, args.steps)
        print(f"{length:>8}{tokens_per_s:>11.0f}{seconds:>9.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
