"""What the PyTorch checkpoint itself answers on the golden prompts: the reference every graph must meet."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reference:
    """Greedy continuation of one prompt, and the logits each of its tokens was chosen from.

    ``logits[i]`` is the next-token distribution after the prompt and ``tokens[:i]``; ``logits[0]``
    is therefore the prompt's last-token logits.
    """

    name: str
    prompt_ids: list[int]
    tokens: list[int]
    logits: np.ndarray  # (new_tokens, vocab) float32


def torch_references(checkpoint: Path, prompts: dict[str, list[int]], new_tokens: int) -> list[Reference]:
    """Greedy decode ``new_tokens`` tokens per prompt with the fp32 checkpoint (no stop on end of turn)."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(checkpoint, dtype=torch.float32, local_files_only=True).eval()
    refs = []
    with torch.inference_mode():
        for name, ids in prompts.items():
            out = model(torch.tensor([ids]), use_cache=True, logits_to_keep=1)
            past, tokens, logits = out.past_key_values, [], []
            for _ in range(new_tokens):
                last = out.logits[0, -1].float()
                logits.append(last.numpy().copy())
                tokens.append(int(last.argmax()))
                out = model(torch.tensor([[tokens[-1]]]), past_key_values=past, use_cache=True)
                past = out.past_key_values
            refs.append(Reference(name, list(ids), tokens, np.stack(logits)))
            logger.info("reference %s: %d prompt tokens, %d new", name, len(ids), new_tokens)
    del model
    return refs


def graph_references(graph: Path, prompts: dict[str, list[int]], new_tokens: int) -> list[Reference]:
    """Greedy decode ``new_tokens`` tokens per prompt with an ONNX graph (the structural gate's float twin)."""
    from export.validate import _Decoder, make_session

    decoder = _Decoder(make_session(graph))
    refs = []
    for name, ids in prompts.items():
        logits, past = decoder.step(list(ids), decoder.empty_past())
        tokens, rows = [], []
        for _ in range(new_tokens):
            rows.append(logits)
            tokens.append(int(logits.argmax()))
            logits, past = decoder.step([tokens[-1]], past)
        refs.append(Reference(name, list(ids), tokens, np.stack(rows)))
        logger.info("graph reference %s: %d prompt tokens, %d new", name, len(ids), new_tokens)
    del decoder
    return refs
