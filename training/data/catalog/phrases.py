"""The phrase templates of ``stories.tsv`` filled in for one stay: admission reasons and clinical courses.

A template names its variable parts in braces (``Fiebre de {dias}``, ``Se realiza {procedimiento}``).
A template is only used when the stay has a value for every placeholder it names, so a sentence
about an antibiotic never appears in a stay that received none.
"""

from __future__ import annotations

import random
import re
from decimal import Decimal
from typing import Any

from clinical.writer.spanish import format_decimal, join_list, lower_first, plural
from training.data.catalog.entries import Catalog, Family, Medication

__all__ = ["fill", "placeholders", "templates"]

_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_ORDINALS = ("primer", "segundo", "tercer", "cuarto", "quinto", "sexto", "séptimo")
_NOT_TREATMENT = ("solución parenteral", "electrolito")  # fluids are not "treatment with ..." in prose


def templates(catalog: Catalog, story: str, kind: str, age_class: str, country: str) -> list[str]:
    """The texts of one story and kind that fit the patient's age class and country (all when none fit)."""
    stories = catalog.stories.get((story, kind), ())
    fitting = [s for s in stories if s.ages in ("*", age_class) and s.country in ("*", country)]
    return [s.text for s in fitting or stories]


def fill(rng: random.Random, texts: list[str], values: dict[str, str | None], count: int = 1) -> list[str]:
    """Up to ``count`` distinct templates whose placeholders all have values, filled in."""
    usable = [t for t in texts if all(values.get(name) for name in _PLACEHOLDER.findall(t))]
    chosen = sorted(rng.sample(range(len(usable)), min(count, len(usable))))  # file order is story order
    return [_PLACEHOLDER.sub(lambda m: values[m.group(1)], usable[i]) for i in chosen]


def placeholders(rng: random.Random, catalog: Catalog, *, country: str, family: Family, diagnosis: str, los: int,
                 vitals: dict[str, Any], inpatient: list[Medication], procedure: str | None) -> dict[str, str | None]:
    """Values for every placeholder; ``None`` where this stay has nothing to say (no antibiotic given...)."""
    side = rng.randrange(2)
    antibiotics = [lower_first(m.name) for m in inpatient if m.drug_group == "antibiótico"]
    treatment = [lower_first(m.name) for m in inpatient if m.drug_group not in _NOT_TREATMENT]
    return {
        "dias": plural(rng.randint(1, 7), "día", "días"),
        "horas": f"{rng.choice((4, 6, 8, 12, 24, 36, 48))} horas",
        "minutos": f"{rng.choice((2, 3, 5))} minutos",
        "lado": ("derecha", "izquierda")[side],
        "lado_m": ("derecho", "izquierdo")[side],
        "dx": lower_first(diagnosis),
        "temp": f"{format_decimal(Decimal(vitals.get('temperature_c', '38.5')))} °C",
        "sat": f"{vitals.get('spo2_percent', 89)}%",
        "fc": str(vitals.get("heart_rate_bpm", 120)),
        "pa": f"{vitals.get('systolic_mmhg', 180)}/{vitals.get('diastolic_mmhg', 105)} mmHg",
        "semanas": f"{rng.randint(*family.weeks)} semanas" if family.weeks else None,
        "dia": _ORDINALS[rng.randint(1, max(1, min(los, len(_ORDINALS)))) - 1],
        "antibiotico": join_list(dict.fromkeys(antibiotics)) or None,
        "tratamiento": join_list(list(dict.fromkeys(treatment))[:3]) or None,
        "procedimiento": lower_first(procedure) if procedure else None,
        **{key: wording[country] for key, wording in catalog.terms.items()},
    }
