"""Vital signs for synthetic stays: age-appropriate values and the abnormalities a family's flags call for.

Flags come from the ``vitals`` column of ``families.tsv`` (``fiebre``, ``taquicardia``, ``taquipnea``,
``hipoxemia``, ``hipertension``, ``hipotension``, ``bradicardia``) and apply to the admission control;
later controls are drawn without flags, as a patient fit for discharge.
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

__all__ = ["FLAGS", "draw"]

FLAGS = frozenset({"fiebre", "taquicardia", "taquipnea", "hipoxemia", "hipertension", "hipotension", "bradicardia"})


def _ranges(age: int, infant: bool) -> tuple[tuple[int, int], tuple[int, int]]:
    """Normal heart and respiratory rates for the age (infants, preschool, school age, adults)."""
    if infant:
        return (110, 150), (34, 50)
    if age < 5:
        return (90, 130), (22, 32)
    if age < 12:
        return (70, 110), (16, 24)
    return (62, 92), (14, 20)


def draw(rng: random.Random, age: int, infant: bool, flags: frozenset[str], brief: bool = False) -> dict[str, Any]:
    """One control's measurements as the record holds them; ``brief`` keeps only some of them."""
    heart, breathing = _ranges(age, infant)
    values: dict[str, Any] = {}
    if age >= 3:  # blood pressure is seldom charted in small children
        systolic = (rng.randint(165, 205) if "hipertension" in flags else rng.randint(72, 89) if "hipotension" in flags
                    else rng.randint(100, 140) if age >= 15 else rng.randint(90, 115))
        diastolic = (rng.randint(95, min(125, systolic - 45)) if "hipertension" in flags
                     else rng.randint(max(35, systolic - 60), min(90, systolic - 30)))
        values["systolic_mmhg"], values["diastolic_mmhg"] = systolic, diastolic
    values["heart_rate_bpm"] = rng.randint(28, 44) if "bradicardia" in flags else rng.randint(*heart) + (
        rng.randint(12, 35) if "taquicardia" in flags else 0)
    values["respiratory_rate_rpm"] = rng.randint(*breathing) + (rng.randint(4, 14) if "taquipnea" in flags else 0)
    values["temperature_c"] = str(Decimal(rng.randint(380, 398) if "fiebre" in flags else rng.randint(360, 373)) / 10)
    values["spo2_percent"] = rng.randint(84, 91) if "hipoxemia" in flags else rng.randint(94, 99)
    if brief:
        for key in rng.sample(["respiratory_rate_rpm", "temperature_c", "spo2_percent", "heart_rate_bpm"], 2):
            values.pop(key)
    return values
