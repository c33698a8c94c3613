"""The curated tables the synthetic stays are drawn from, parsed and cross-checked once per process.

Every table is a UTF-8 TSV file next to this module (see ``README.md`` for the columns and how they
were written). :func:`load_catalog` parses them into frozen dataclasses and checks every reference
between them: a family naming a medication that does not exist, a CIE-10 code in the wrong format or
a drug the output checks' lexicon cannot recognise is a :class:`CatalogError` naming file and line,
raised at load time rather than as an odd record later.
"""

from __future__ import annotations

import re
from collections import defaultdict
from decimal import Decimal
from functools import cache
from importlib import resources

from clinical.lexicon import load_lexicon
from clinical.record import CIE10_PATTERN, Route
from training.data.catalog.entries import (
    Allergen,
    Catalog,
    Comorbidity,
    Diagnosis,
    Family,
    Lab,
    Medication,
    Pick,
    Procedure,
    Service,
    Story,
    SurgicalHistory,
)
from training.data.catalog.vitals import FLAGS

__all__ = [
    "AGE_CLASSES", "Allergen", "Catalog", "CatalogError", "Comorbidity", "Diagnosis", "Family", "Lab",
    "Medication", "Pick", "Procedure", "Service", "Story", "SurgicalHistory", "load_catalog",
]

AGE_CLASSES = ("neo", "nino", "adulto")  # under 28 days, under 15 years, 15 years and over
COUNTRIES = ("CL", "MX")


class CatalogError(ValueError):
    """A catalog table is malformed or refers to something that does not exist."""


def _rows(name: str, columns: list[str]) -> list[tuple[int, dict[str, str]]]:
    """(line number, row) pairs of one table; the header must start with ``columns``."""
    text = resources.files(__name__).joinpath(name).read_text(encoding="utf-8")
    lines = text.splitlines()
    header = lines[0].split("\t") if lines else []
    if header[: len(columns)] != columns:
        raise CatalogError(f"{name}: the header must start with {'<TAB>'.join(columns)}")
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip() or line.startswith("#"):
            continue
        cells = line.split("\t")
        if len(cells) != len(header):
            raise CatalogError(f"{name} line {number}: expected {len(header)} tab-separated columns, got {len(cells)}")
        rows.append((number, dict(zip(header, (c.strip() for c in cells), strict=True))))
    return rows


def _span(text: str) -> tuple[tuple[int, int], int | None]:
    """``"15-99~70"`` -> ((15, 99), 70): an age range with an optional mode."""
    span, _, mode = text.partition("~")
    lo, hi = (int(part) for part in span.split("-"))
    return (lo, hi), int(mode) if mode else None


def _picks(text: str, labs: bool = False) -> tuple[Pick, ...]:
    """Parse ``"a,b|c?|d+"``: slots split by ``|``, options by ``,``, ``?`` marks an optional slot."""
    picks = []
    for slot in filter(None, text.split("|")):
        options, directions, optional = [], [], False
        for token in slot.split(","):
            token = token.strip()
            optional |= token.endswith("?")
            token = token.rstrip("?")
            direction = token[-1] if labs and token[-1:] in "+-" else ""
            options.append(token[: len(token) - len(direction)])
            directions.append(direction)
        picks.append(Pick(tuple(options), optional, tuple(directions) if labs else ()))
    return tuple(picks)


def _values(text: str, fmt: str) -> tuple[str, ...]:
    """A lab column: text results split on ``|``; a numeric range ``"6,5-11,5"`` as its two ends."""
    if fmt == "text":
        return tuple(filter(None, text.split("|")))
    return tuple(filter(None, re.split(r"(?<=\d)-(?=\d)", text)))


def _number(text: str) -> Decimal:
    return Decimal(text.replace(",", "."))


def _options(text: str) -> tuple[str | None, ...]:
    return tuple(None if part == "~" else part for part in text.split("|"))


def _medication(row: dict[str, str]) -> Medication:
    """A medication row; its name must be one the output checks' drug lexicon recognises."""
    lexicon = load_lexicon()
    found = lexicon.find(row["name"])
    drug = lexicon.canonical(row["name"]) or (found[0].canonical if found else None)
    if drug is None:
        raise CatalogError(f"medications.tsv {row['id']}: {row['name']!r} is not in clinical/lexicon/drugs.tsv")
    doses = []
    for part in row["dose"].split("|"):
        value, _, unit = part.partition(" ")
        doses.append((Decimal(0), value) if not unit else (_number(value), unit))
    return Medication(
        id=row["id"], name=row["name"], doses=tuple(doses), route=Route(row["route"]),
        frequencies=tuple(row["frequency"].split("|")), durations=_options(row["duration"]),
        group=row["group"], ages=frozenset(row["age"].split("|")),
        per_kg=_number(row["per_kg"]) if row["per_kg"] else None,
        max_dose=_number(row["max"]) if row["max"] else None,
        allergy=row["allergy"] or None, country=None if row["country"] == "*" else row["country"],
        exclusive=row["exclusive"] or None, drug=drug, drug_group=lexicon.entry(drug).group,
    )


def _diagnosis(row: dict[str, str]) -> Diagnosis:
    ages, mode = _span(row["age"])
    tokens = [t for t in row["prefer"].split(",") if t]
    return Diagnosis(
        code=row["code"], description=row["description"], clinical=row["clinical"] or row["description"],
        family=row["family"], principal=row["role"] == "P", services=tuple(filter(None, row["services"].split("|"))),
        sex=None if row["sex"] == "*" else row["sex"], ages=ages, age_mode=mode, weight=float(row["weight"]),
        prefer=frozenset(t.rstrip("+") for t in tokens if not t.startswith("-")),
        avoid=frozenset(t[1:] for t in tokens if t.startswith("-")),
        lab_directions={t[:-1]: "+" for t in tokens if t.endswith("+")}, origin=row["origin"] or None,
    )


def _family(row: dict[str, str]) -> Family:
    origins = []
    for part in row["origin"].split("|"):
        origin, _, weight = part.partition(":")
        origins.append((origin, float(weight or 1)))
    return Family(
        key=row["family"], story=row["story"] or row["family"], los=_span(row["los"])[0], origins=tuple(origins),
        severity=row["severity"], procedures=_picks(row["procedures"]), inpatient=_picks(row["inpatient"]),
        discharge=_picks(row["discharge"]), labs=_picks(row["labs"], labs=True),
        vitals=frozenset(filter(None, row["vitals"].split(","))), instructions=_picks(row["instructions"]),
        follow_ups=_picks(row["follow_ups"]), secondary=_picks(row["secondary"]),
        weeks=_span(row["weeks"])[0] if row["weeks"] else None,
    )


def _check(catalog: Catalog) -> None:
    """Cross-table references and CIE-10 formats."""
    for dx in catalog.diagnoses.values():
        if not CIE10_PATTERN.match(dx.code):
            raise CatalogError(f"diagnoses.tsv {dx.code}: not a CIE-10 code")
        if dx.principal and (dx.family not in catalog.families or not dx.services):
            raise CatalogError(f"diagnoses.tsv {dx.code}: unknown family {dx.family!r} or no services")
        if unknown := set(dx.services) - set(catalog.services):
            raise CatalogError(f"diagnoses.tsv {dx.code}: unknown services {sorted(unknown)}")
    known = {
        "procedures": catalog.procedures, "inpatient": catalog.medications, "discharge": catalog.medications,
        "labs": catalog.labs, "instructions": catalog.instructions, "secondary": catalog.diagnoses,
    }
    for family in catalog.families.values():
        for field, table in known.items():
            for pick in getattr(family, field):
                if missing := [o for o in pick.options if o not in table]:
                    raise CatalogError(f"families.tsv {family.key}.{field}: unknown ids {missing}")
        for kind in ("motivo", "curso"):
            if not catalog.stories.get((family.story, kind)):
                raise CatalogError(f"stories.tsv: family {family.key!r} has no {kind!r} text")
    for family in catalog.families.values():
        if unknown := family.vitals - FLAGS:
            raise CatalogError(f"families.tsv {family.key}: unknown vital-sign flags {sorted(unknown)}")
    for proc in catalog.procedures.values():
        if proc.implies and proc.implies.rstrip("+-") not in catalog.labs:
            raise CatalogError(f"procedures.tsv {proc.id}: implies an unknown lab {proc.implies!r}")
    for item in catalog.comorbidities:
        ids = [i for regimen in item.treatments for i in regimen]
        if item.code not in catalog.diagnoses or any(i not in catalog.medications for i in ids):
            raise CatalogError(f"comorbidities.tsv {item.code}: unknown code or medication")


@cache
def load_catalog() -> Catalog:
    """The packaged catalog, parsed and checked once per process."""
    services = {
        r["key"]: Service(r["key"], {"CL": r["name_cl"], "MX": r["name_mx"]}, _span(r["age"])[0],
                          float(r["weight"]), {"CL": r["follow_up_cl"], "MX": r["follow_up_mx"]})
        for _, r in _rows("services.tsv", ["key", "name_cl", "name_mx", "age", "weight"])
    }
    diagnoses: dict[str, Diagnosis] = {}
    for number, r in _rows("diagnoses.tsv", ["code", "description", "clinical", "family", "role", "services"]):
        if r["code"] in diagnoses:
            raise CatalogError(f"diagnoses.tsv line {number}: code {r['code']} is listed twice")
        diagnoses[r["code"]] = _diagnosis(r)
    procedures = {
        r["id"]: Procedure(r["id"], {"CL": r["name_cl"], "MX": r["name_mx"]}, r["code"] or None, r["kind"],
                           r["when"], frozenset(r["age"].split("|")), r["implies"])
        for _, r in _rows("procedures.tsv", ["id", "name_cl", "name_mx", "code", "kind", "when", "age"])
    }
    medications = {r["id"]: _medication(r) for _, r in _rows("medications.tsv", ["id", "name", "dose", "route"])}
    labs = {
        r["id"]: Lab(r["id"], {"CL": r["name_cl"], "MX": r["name_mx"]}, r["unit"] or None,
                     *(_values(r[c], r["format"]) for c in ("normal", "low", "high")), r["format"])
        for _, r in _rows("labs.tsv", ["id", "name_cl", "name_mx", "unit", "normal", "low", "high", "format"])
    }
    families = {r["family"]: _family(r) for _, r in _rows("families.tsv", ["family", "story", "los", "origin"])}
    comorbidities = tuple(
        Comorbidity(r["code"], {"CL": r["history_cl"], "MX": r["history_mx"]},
                    tuple(tuple(t.split("+")) for t in r["meds"].split("|") if t), _span(r["age"])[0],
                    None if r["sex"] == "*" else r["sex"], float(r["weight"].replace(",", ".")), r["pregnancy"] == "y")
        for _, r in _rows("comorbidities.tsv", ["code", "history_cl", "history_mx", "meds", "age", "sex", "weight"])
    )
    surgical = tuple(
        SurgicalHistory({"CL": r["text_cl"], "MX": r["text_mx"]}, None if r["sex"] == "*" else r["sex"],
                        _span(r["age"])[0], r["year"] == "y", frozenset(filter(None, r["excludes"].split("|"))))
        for _, r in _rows("surgical_history.tsv", ["text_cl", "text_mx", "sex", "age", "year", "excludes"])
    )
    allergens = tuple(
        Allergen(r["substance"], frozenset(filter(None, r["class"].split("|"))), _options(r["reactions"]))
        for _, r in _rows("allergens.tsv", ["substance", "class", "reactions"])
    )
    instruction_rows = [r for _, r in _rows("instructions.tsv", ["key", "text_cl", "text_mx", "note_for"])]
    instructions = {r["key"]: {"CL": r["text_cl"], "MX": r["text_mx"]} for r in instruction_rows}
    notes = {r["key"]: tuple("" if c == "*" else c for c in r["note_for"].split()) for r in instruction_rows
             if r["note_for"]}
    terms = {r["key"]: {"CL": r["CL"], "MX": r["MX"]} for _, r in _rows("terms.tsv", ["key", "CL", "MX"])}
    specialties = {r["name_cl"]: r["name_mx"] for _, r in _rows("specialties.tsv", ["name_cl", "name_mx"])}
    stories: dict[tuple[str, str], list[Story]] = defaultdict(list)
    for _, r in _rows("stories.tsv", ["story", "kind", "ages", "country", "text"]):
        stories[(r["story"], r["kind"])].append(Story(r["story"], r["kind"], r["ages"], r["country"], r["text"]))
    names: dict[tuple[str, str], list[str]] = defaultdict(list)
    for _, r in _rows("names.tsv", ["country", "kind", "name"]):
        names[(r["country"], r["kind"])].append(r["name"])
    places: dict[tuple[str, str], list[str]] = defaultdict(list)
    for _, r in _rows("places.tsv", ["country", "kind", "name"]):
        places[(r["country"], r["kind"])].append(r["name"])
    catalog = Catalog(
        services, diagnoses, procedures, medications, labs, families, comorbidities, surgical, allergens,
        instructions, notes, terms, specialties, {k: tuple(v) for k, v in stories.items()},
        {k: tuple(v) for k, v in names.items()}, {k: tuple(v) for k, v in places.items()},
    )
    _check(catalog)
    return catalog
