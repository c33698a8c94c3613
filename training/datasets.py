"""Training examples from JSONL (a hospital's own data) or the synthetic generator, as chat pairs.

Every example becomes (prompt messages, answer) through ``clinical.contract``, the same prompt
builder the backend and the browser use. JSONL formats, one object per line:

- epicrisis:   {"record": <HospitalStay as the API takes it>, "epicrisis": "<the signed text>"}
- translation: {"source": "<Spanish, de-identified>", "target": "<English>", "hints": [["es", "en"], ...]}
               placeholders (__PHI_TYPE_N__) must be the same in source and target
- reasoning:   {"Question": ..., "Complex_CoT": ..., "Response": ...} (HuatuoGPT-o1 medical-o1-reasoning-SFT)
               or {"question": ..., "thinking": ..., "answer": ...}
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from clinical.contract import epicrisis_messages, reasoning_answer, reasoning_messages, translation_messages
from clinical.record import HospitalStay, field_errors
from training.config import DataConfig, Task

PLACEHOLDER = re.compile(r"__PHI_[A-Z]+_\d+__")


class DatasetError(ValueError):
    """A JSONL file with lines that cannot be used; lists every bad line with what is wrong."""


@dataclass(frozen=True)
class ChatExample:
    """One supervised example: the prompt messages (system + user) and the answer to learn."""

    messages: list[dict[str, str]]
    answer: str
    meta: dict[str, Any] = field(default_factory=dict)


def _field_errors(exc: ValidationError) -> str:
    # Field paths and messages only: the rejected values are patient data.
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'record'}: {e['msg']}" for e in field_errors(exc.errors()))


def _epicrisis(obj: dict[str, Any]) -> ChatExample:
    if set(obj) != {"record", "epicrisis"}:
        raise ValueError(f"expected keys record and epicrisis, got {sorted(obj)}")
    if not isinstance(obj["epicrisis"], str) or not obj["epicrisis"].strip():
        raise ValueError("epicrisis must be a non-empty string")
    try:
        stay = HospitalStay.model_validate(obj["record"])
    except ValidationError as exc:
        raise ValueError(_field_errors(exc)) from None
    return epicrisis_example(stay, obj["epicrisis"])


def epicrisis_example(stay: HospitalStay, text: str) -> ChatExample:
    return ChatExample(epicrisis_messages(stay), text.strip(), {"stay": stay})


def _translation(obj: dict[str, Any]) -> ChatExample:
    unknown = set(obj) - {"source", "target", "hints"}
    if unknown or not {"source", "target"} <= set(obj):
        raise ValueError(f"expected keys source, target and optional hints, got {sorted(obj)}")
    source, target = obj["source"], obj["target"]
    if not all(isinstance(t, str) and t.strip() for t in (source, target)):
        raise ValueError("source and target must be non-empty strings")
    if Counter(PLACEHOLDER.findall(source)) != Counter(PLACEHOLDER.findall(target)):
        raise ValueError("the placeholders (__PHI_TYPE_N__) of source and target differ; the model must copy "
                         "each one verbatim, once")
    hints = [tuple(pair) for pair in obj.get("hints") or []]
    if not all(len(pair) == 2 and all(isinstance(x, str) for x in pair) for pair in hints):
        raise ValueError("hints must be a list of [spanish, english] pairs")
    return ChatExample(translation_messages(source, hints), target.strip(), {"source": source})


def _reasoning(obj: dict[str, Any]) -> ChatExample:
    keys = ("Question", "Complex_CoT", "Response") if "Question" in obj else ("question", "thinking", "answer")
    missing = [k for k in keys if not isinstance(obj.get(k), str) or not obj[k].strip()]
    if missing:
        raise ValueError(f"missing or empty {', '.join(missing)}; expected {', '.join(keys)}")
    question, thinking, response = (obj[k] for k in keys)
    return ChatExample(reasoning_messages(question.strip()), reasoning_answer(thinking, response))


_PARSERS = {"epicrisis": _epicrisis, "translation": _translation, "reasoning": _reasoning}


def read_jsonl(path: Path, task: Task) -> list[ChatExample]:
    """All examples of a JSONL file, or a DatasetError listing every bad line (up to 20)."""
    parse = _PARSERS[task]
    examples: list[ChatExample] = []
    problems: list[str] = []
    with Path(path).open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                if not isinstance(obj, dict):
                    raise ValueError("each line must be a JSON object")
                examples.append(parse(obj))
            except json.JSONDecodeError as exc:
                problems.append(f"line {number}: not valid JSON ({exc.msg} at column {exc.colno})")
            except ValueError as exc:
                problems.append(f"line {number}: {exc}")
    if problems:
        shown = "\n  ".join(problems[:20]) + (f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else "")
        raise DatasetError(f"{path}: {len(problems)} bad line(s) for task {task}:\n  {shown}")
    if not examples:
        raise DatasetError(f"{path} has no examples")
    return examples


def synthetic_examples(n: int, seed: int, profile: str) -> list[ChatExample]:
    """Synthetic epicrisis stays with varied reference narratives (training.data)."""
    import random

    from training.data.narratives import reference_epicrisis
    from training.data.synthetic import generate_stays

    rng = random.Random(seed + 1)
    return [epicrisis_example(stay, reference_epicrisis(stay, rng)) for stay in generate_stays(n, seed, profile=profile)]


def load_splits(cfg: DataConfig, seed: int) -> tuple[list[ChatExample], list[ChatExample]]:
    """(train, validation) examples as the config says; synthetic splits use disjoint seeds."""
    if cfg.train_file:
        train = read_jsonl(Path(cfg.train_file), cfg.task)
    else:
        train = synthetic_examples(cfg.synthetic_train, seed, cfg.synthetic_profile)
    if cfg.validation_file:
        validation = read_jsonl(Path(cfg.validation_file), cfg.task)
    elif cfg.synthetic_validation:
        validation = synthetic_examples(cfg.synthetic_validation, seed + 1_000_003, cfg.synthetic_profile)
    else:
        validation = []
    return train, validation


def iter_texts(examples: list[ChatExample]) -> Iterator[str]:
    """Every prompt and answer text, e.g. to train a tokenizer on."""
    from clinical.contract import render_chatml

    for ex in examples:
        yield render_chatml(ex.messages)
        yield ex.answer
