"""Warm up the new rows of a real model, and measure it before and after (the demo model).

Only the rows of the tokens :mod:`training.vocab.medical` added are trained (the embedding, which
is also the LM head when tied; an untied LM head's new rows too): every other weight, old rows
included, stays bit for bit. Perplexity per token is not comparable across tokenizers (fewer,
longer tokens each carry more), so the report gives the total negative log-likelihood of the
held-out answers and the perplexity per *original* token, exp(total NLL / tokens the old tokenizer
needs): equal figures mean the model finds the text equally likely.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from training.vocab import medical
from training.vocab.corpus import Corpus

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Likelihood:
    nll: float  # summed over every answer token of every example (nats)
    tokens: int

    @property
    def perplexity(self) -> float:
        return math.exp(self.nll / max(self.tokens, 1))

    def per(self, tokens: int) -> float:
        """Perplexity as if the text had ``tokens`` tokens (the old tokenizer's count)."""
        return math.exp(self.nll / max(tokens, 1))


def likelihood(model, tokenizer, examples) -> Likelihood:  # noqa: ANN001
    """Summed NLL of the answers (prompt excluded), as training/evaluate.py's perplexity counts it."""
    import torch

    from training.encode import IGNORE, encode

    model.eval()
    nll, count = 0.0, 0
    with torch.no_grad():
        for ex in examples:
            enc = encode(tokenizer, ex)
            logits = model(input_ids=torch.tensor([enc["input_ids"]])).logits[0, :-1].float()
            target = torch.tensor(enc["labels"][1:])
            mask = target != IGNORE
            nll += torch.nn.functional.cross_entropy(logits[mask], target[mask], reduction="sum").item()
            count += int(mask.sum())
    return Likelihood(nll, count)


def train_new_rows(model, tokenizer, examples, new_ids: list[int], *, steps: int, seconds: float,  # noqa: ANN001
                   batch_size: int = 2, lr: float = 3e-3, seed: int = 0) -> dict:
    """A few hundred AdamW steps on the new rows only (old rows' gradients are zeroed, so they never move)."""
    import torch

    from training.encode import PadCollator, encode

    torch.manual_seed(seed)
    for p in model.parameters():
        p.requires_grad_(False)
    mask = torch.zeros(model.get_input_embeddings().weight.shape[0], 1)
    mask[new_ids] = 1.0
    params = [model.get_input_embeddings().weight]
    if model.get_output_embeddings() is not None and model.get_output_embeddings().weight is not params[0]:
        params.append(model.get_output_embeddings().weight)
    for p in params:
        p.requires_grad_(True)
        p.register_hook(lambda g: g * mask.to(g.dtype))
    optimiser = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    encoded = [encode(tokenizer, ex) for ex in examples]
    collate = PadCollator(tokenizer.pad_token_id)
    order = random.Random(seed)
    model.train()
    started, done, losses = time.perf_counter(), 0, []
    while done < steps and time.perf_counter() - started < seconds:
        batch = collate(order.sample(encoded, min(batch_size, len(encoded))))
        loss = model(**batch).loss
        loss.backward()
        optimiser.step()
        optimiser.zero_grad(set_to_none=True)
        losses.append(loss.item())
        done += 1
    model.eval()
    return {"steps": done, "lr": lr, "seconds": round(time.perf_counter() - started, 1),
            "first_loss": losses[0] if losses else None, "last_loss": sum(losses[-10:]) / max(len(losses[-10:]), 1)}


DEMO_DATA = Path(__file__).resolve().parents[1] / "data" / "vocab"


def read_chat_jsonl(path: Path):  # noqa: ANN201
    """``{"messages": [...], "answer": "..."}`` lines (gzip allowed) as ChatExamples."""
    import gzip

    from training.datasets import ChatExample

    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [ChatExample(o["messages"], o["answer"]) for o in map(json.loads, f) if o]


def demo_medical(demo_dir: Path, work: Path, *, max_merges: int = 1024, n_train: int = 200, n_eval: int = 40,
                 steps: int = 300, seconds: float = 240.0, lr: float = 3e-3, data: Path | None = DEMO_DATA) -> dict:
    """The demo model with a medical vocabulary learnt on its own training stays, warmed up, measured.

    ``data``: a folder with ``demo-58ff5ce-{train,test}.jsonl.gz``, the stays the shipped demo was
    trained and evaluated on (see its README); ``None`` draws today's stays (seed 1234, compact), whose
    narratives have changed since. New tokens are learnt, and rows warmed up, on the training stays;
    the figures come from the held-out ones.
    """
    import torch
    from transformers import AutoModelForCausalLM

    from training.datasets import epicrisis_example
    from training.modeling import load_tokenizer

    torch.set_num_threads(min(2, torch.get_num_threads()))
    if data is not None:
        train = read_chat_jsonl(Path(data) / "demo-58ff5ce-train.jsonl.gz")[:n_train]
        held = read_chat_jsonl(Path(data) / "demo-58ff5ce-test.jsonl.gz")[:n_eval]
    else:
        from training.data import synthetic_epicrisis_split

        splits = synthetic_epicrisis_split(n_train, 0, n_eval, 1234, "compact")
        train = [epicrisis_example(e.stay, e.text) for e in splits["train"]]
        held = [epicrisis_example(e.stay, e.text) for e in splits["test"]]
    n_eval = len(held)
    words = medical.word_counts(Path(demo_dir) / "tokenizer.json", [Corpus("demo train", tuple(e.answer for e in train))])
    merges = medical.learn_merges(words, max_merges, min_saving=5)
    extended = medical.extend_checkpoint(demo_dir, Path(work) / "extended", merges)

    old_tok = load_tokenizer(str(demo_dir))
    old_model = AutoModelForCausalLM.from_pretrained(demo_dir, dtype=torch.float32)
    before = likelihood(old_model, old_tok, held)
    del old_model
    new_tok = load_tokenizer(str(extended.out_dir))
    model = AutoModelForCausalLM.from_pretrained(extended.out_dir, dtype=torch.float32)
    initial = likelihood(model, new_tok, held)
    training = train_new_rows(model, new_tok, train, sorted(extended.new_tokens.values()), steps=steps, seconds=seconds,
                              lr=lr)
    after = likelihood(model, new_tok, held)
    model.to(torch.float16).save_pretrained(Path(work) / "warmed")
    new_tok.save_pretrained(Path(work) / "warmed")
    return {
        "new_tokens": len(extended.new_tokens), "vocab_size": f"{extended.old_size} -> {extended.new_size}",
        "answer_tokens_per_epicrisis": {"before": before.tokens / n_eval, "after": after.tokens / n_eval},
        "perplexity_per_token": {"before": before.perplexity, "mean_init": initial.perplexity, "warmed": after.perplexity},
        "perplexity_per_original_token": {"before": before.perplexity, "mean_init": initial.per(before.tokens),
                                          "warmed": after.per(before.tokens)},
        "nll_per_epicrisis": {"before": before.nll / n_eval, "mean_init": initial.nll / n_eval,
                              "warmed": after.nll / n_eval},
        "warmup": training, "n_train": len(train), "n_eval": n_eval, "max_merges": max_merges,
        "data": str(data) if data is not None else "today's stays (seed 1234)",
        "out": str(Path(work) / "warmed"),
        "likelihoods": {k: asdict(v) for k, v in (("before", before), ("mean_init", initial), ("warmed", after))},
    }
