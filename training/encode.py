"""Token ids and labels for supervised fine-tuning: the loss falls on the answer only."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import torch
from transformers import PreTrainedTokenizerBase

from clinical.contract import render_chatml
from training.datasets import ChatExample

logger = logging.getLogger(__name__)
IGNORE = -100  # label value the cross-entropy loss skips
END_OF_TURN = "<|im_end|>"


def encode(tokenizer: PreTrainedTokenizerBase, example: ChatExample) -> dict[str, list[int]]:
    """input_ids = prompt + answer + <|im_end|>; labels = -100 over the prompt, the ids elsewhere.

    The prompt is tokenised on its own, exactly as the engines tokenise it at inference time, so
    the model learns to continue the very ids it will be given. <|im_end|> is learnt, so the model
    learns when to stop.
    """
    prompt_ids = tokenizer(render_chatml(example.messages), add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(example.answer + END_OF_TURN, add_special_tokens=False)["input_ids"]
    return {
        "input_ids": prompt_ids + answer_ids,
        "attention_mask": [1] * (len(prompt_ids) + len(answer_ids)),
        "labels": [IGNORE] * len(prompt_ids) + answer_ids,
    }


def encode_all(tokenizer: PreTrainedTokenizerBase, examples: list[ChatExample], max_length: int,
               split: str = "train") -> list[dict[str, list[int]]]:
    """Encoded examples; ones longer than ``max_length`` are dropped and counted (never cut: a cut
    answer would teach the model not to stop, a cut prompt would lose the record)."""
    encoded = [encode(tokenizer, ex) for ex in examples]
    kept = [e for e in encoded if len(e["input_ids"]) <= max_length]
    if len(kept) < len(encoded):
        logger.warning("%s: dropped %d of %d examples longer than data.max_length=%d tokens",
                       split, len(encoded) - len(kept), len(encoded), max_length)
    if not kept:
        raise ValueError(f"every {split} example is longer than data.max_length={max_length}; raise it")
    return kept


@dataclass
class PadCollator:
    """Pads a batch to its longest example: pad id for inputs, 0 for the mask, -100 for labels."""

    pad_token_id: int

    def __call__(self, batch: list[dict[str, list[int]]]) -> dict[str, Any]:
        longest = max(len(b["input_ids"]) for b in batch)
        out: dict[str, list[list[int]]] = {"input_ids": [], "attention_mask": [], "labels": []}
        for b in batch:
            pad = longest - len(b["input_ids"])
            out["input_ids"].append(b["input_ids"] + [self.pad_token_id] * pad)
            out["attention_mask"].append(b["attention_mask"] + [0] * pad)
            out["labels"].append(b["labels"] + [IGNORE] * pad)
        return {k: torch.tensor(v) for k, v in out.items()}
