"""Epicrisis training data: synthetic record/epicrisis pairs, split by seed, in the hospital JSONL format.

A hospital's own data comes as JSONL, one object per line: ``{"record": <the record as the API
takes it>, "epicrisis": "<the text a clinician wrote>"}``. The synthetic pairs here are written in
exactly that format, so the same loader, trainer and evaluation read both.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clinical.contract import canonical_json
from clinical.record import HospitalStay
from training.data.narratives import reference_epicrisis
from training.data.synthetic import Country, Profile, generate_stay

__all__ = ["SPLITS", "EpicrisisExample", "synthetic_epicrisis_split", "write_jsonl"]

SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class EpicrisisExample:
    """One training pair: a hospital stay and the epicrisis written from it."""

    stay: HospitalStay
    text: str

    def to_json(self) -> dict[str, Any]:
        """The JSONL object: the record as the API takes it (no null fields) and the epicrisis."""
        return {"record": json.loads(self.stay.model_dump_json(exclude_none=True)), "epicrisis": self.text}


def synthetic_epicrisis_split(n_train: int, n_val: int, n_test: int, seed: int | str,
                              profile: Profile = "full", *, country: Country | None = None
                              ) -> dict[str, list[EpicrisisExample]]:
    """Synthetic pairs for ``train``, ``validation`` and ``test``: deterministic per seed, and disjoint.

    Each split draws its records and its wording from its own generators, so growing the training
    set never changes the test set. A record identical to one already drawn for an earlier split is
    drawn again, which makes the splits disjoint even in the unlikely event of a collision.
    """
    for name, n in zip(SPLITS, (n_train, n_val, n_test), strict=True):
        if n < 0:
            raise ValueError(f"the {name} split cannot have a negative size ({n})")
    seen: set[str] = set()
    splits: dict[str, list[EpicrisisExample]] = {}
    for name, n in zip(SPLITS, (n_train, n_val, n_test), strict=True):
        records = random.Random(f"{seed}:{name}:records")
        wording = random.Random(f"{seed}:{name}:wording")
        examples = []
        while len(examples) < n:
            stay = generate_stay(records, country=country, profile=profile)
            key = canonical_json(stay)
            if key in seen:
                continue
            seen.add(key)
            examples.append(EpicrisisExample(stay, reference_epicrisis(stay, wording)))
        splits[name] = examples
    return splits


def write_jsonl(examples: Iterable[EpicrisisExample], path: str | Path) -> int:
    """Write ``examples`` as UTF-8 JSONL (parent folders created); returns how many lines were written."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with target.open("w", encoding="utf-8") as out:
        for example in examples:
            out.write(json.dumps(example.to_json(), ensure_ascii=False) + "\n")
            count += 1
    return count
