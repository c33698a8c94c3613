"""Observations: vital signs by LOINC (grouped by panel, else by time), weight, age, and labs."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from clinical.fhir import codes
from clinical.fhir.read_helpers import codings, date, has_code, put, stay_entries, text_of, wall
from clinical.fhir.values import format_lab_number

if TYPE_CHECKING:
    from clinical.fhir.bundle_in import Entry, Reading

TEMPERATURE_F = frozenset({"[degF]", "degF", "°F"})


def _loincs(concept: Any) -> set[str]:
    return {code for system, code in codings(concept) if system == codes.LOINC and code}


def read_observations(reading: Reading) -> None:
    entries = stay_entries(reading, "Observation")
    panels = [e for e in entries if codes.VITALS_PANEL in _loincs(e.resource.code)]
    member_of: dict[int, Entry] = {}
    for panel in panels:
        for ref in panel.resource.hasMember or []:
            target = reading.resolve(ref)
            if target is not None:
                member_of[target.index] = panel
    groups: dict[Any, dict[str, Any]] = {}  # panel index or wall-clock time -> vital-sign control
    labs: list[dict[str, Any]] = []
    weights: list[tuple[Any, Entry]] = []
    for entry in entries:
        o, path = entry.resource, entry.path
        found = _loincs(o.code)
        if codes.VITALS_PANEL in found:
            continue
        if codes.BODY_WEIGHT in found:
            weights.append((o.effectiveDateTime, entry))
            continue
        if codes.AGE in found:
            value = o.valueQuantity.value if o.valueQuantity else o.valueInteger
            if value is None:
                reading.problem(f"{path}.valueQuantity", "the age Observation needs valueQuantity in years")
            else:
                reading.record["patient"]["age_years"] = int(value)
                put(reading, "patient.age_years", f"{path}.valueQuantity.value")
            continue
        vital = found & (set(codes.VITALS) | {codes.BP_PANEL})
        is_vital_category = any(has_code(c, None, "vital-signs") for c in o.category or [])
        if vital:
            _vital(reading, entry, member_of.get(entry.index), groups)
        elif is_vital_category:
            reading.problem(f"{path}.code", "a vital sign Alta does not map; Alta reads LOINC 8480-6, 8462-4, "
                            "85354-9, 8867-4, 9279-1, 8310-5, 59408-5, 2708-6, 29463-7 (weight) and 30525-0 (age)")
        else:
            lab = _lab(reading, entry)
            if lab is not None:
                put(reading, f"labs[{len(labs)}]", path)
                put(reading, f"labs[{len(labs)}].taken_on", f"{path}.effectiveDateTime")
                labs.append(lab)
    if weights:
        weights.sort(key=lambda w: (wall(w[0]) or dt.datetime.max, w[1].index))
        _weight(reading, weights[0][1])
    vitals = []
    for i, group in enumerate(groups.values()):
        put(reading, f"vital_signs[{i}]", group.pop("_path"))
        vitals.append(group)
    reading.record["labs"] = labs
    reading.record["vital_signs"] = vitals


def _weight(reading: Reading, entry: Entry) -> None:
    q = entry.resource.valueQuantity
    factor = {"kg": Decimal(1), "g": Decimal("0.001"), "[lb_av]": Decimal("0.45359237"), "lb": Decimal("0.45359237")}
    unit = (q.code or q.unit) if q is not None else None
    if q is None or q.value is None or unit not in factor or not 0 < Decimal(str(q.value)) < 1_000_000:
        reading.problem(f"{entry.path}.valueQuantity", "body weight needs valueQuantity with a value (in range) "
                        "and unit kg")
        return
    kg = (Decimal(str(q.value)) * factor[unit]).quantize(Decimal("0.001")).normalize()
    reading.record["patient"]["weight_kg"] = str(kg)
    put(reading, "patient.weight_kg", f"{entry.path}.valueQuantity")


def _vital(reading: Reading, entry: Entry, panel: Entry | None, groups: dict[Any, dict[str, Any]]) -> None:
    o, path = entry.resource, entry.path
    taken = wall(o.effectiveDateTime) or (wall(panel.resource.effectiveDateTime) if panel else None)
    if taken is None:
        reading.problem(f"{path}.effectiveDateTime", "a vital sign needs effectiveDateTime with date and time")
        return
    key = ("panel", panel.index) if panel is not None else ("time", taken)
    group = groups.setdefault(key, {"taken_at": taken.isoformat(), "_path": (panel or entry).path})
    measures: list[tuple[str, Any, str]] = []
    if codes.BP_PANEL in _loincs(o.code):
        for k, comp in enumerate(o.component or []):
            for code in _loincs(comp.code) & {codes.SYSTOLIC, codes.DIASTOLIC}:
                measures.append((code, comp.valueQuantity, f"{path}.component[{k}].valueQuantity"))
    else:
        code = next(iter(_loincs(o.code) & set(codes.VITALS)))
        measures.append((code, o.valueQuantity, f"{path}.valueQuantity"))
    for code, q, at in measures:
        name = codes.VITALS[code][0]
        if q is None or q.value is None:
            reading.problem(at, "the vital sign needs valueQuantity.value")
            continue
        if name in group:
            reading.problem(f"{path}.code", "a second measurement of the same vital sign in one control; send it "
                            "with its own effectiveDateTime or panel")
            continue
        value = Decimal(str(q.value))
        if abs(value) >= 1_000_000:
            reading.problem(at, "the vital sign's value is out of range")
            continue
        if name == "temperature_c":
            if (q.code or q.unit) in TEMPERATURE_F:
                value = (value - 32) * 5 / 9
            group[name] = str(value.quantize(Decimal("0.1")))
        else:
            group[name] = int(value.to_integral_value())
        put(reading, f"vital_signs[{list(groups).index(key)}].{name}", at)


def _lab(reading: Reading, entry: Entry) -> dict[str, Any] | None:
    o, path = entry.resource, entry.path
    name = text_of(o.code)
    if not name:
        reading.problem(f"{path}.code", "the Observation needs code.text or a display (the test's name)")
        return None
    taken = date(o.effectiveDateTime) or date(o.effectivePeriod.start if o.effectivePeriod else None) \
        or date(o.issued)
    if taken is None:
        reading.problem(f"{path}.effectiveDateTime", "the Observation needs effectiveDateTime (when it was taken)")
        return None
    lab: dict[str, Any] = {"name": name, "taken_on": taken.isoformat()}
    unit = next((x.valueString for x in o.extension or [] if x.url == codes.EXT_LAB_UNIT), None)
    if o.valueQuantity is not None and o.valueQuantity.value is not None:
        q = o.valueQuantity
        lab["value"] = (q.comparator or "") + format_lab_number(Decimal(str(q.value)))
        unit = q.unit or q.code
    elif o.valueString:
        lab["value"] = o.valueString
    elif o.valueInteger is not None:
        lab["value"] = str(o.valueInteger)
    elif text_of(o.valueCodeableConcept):
        lab["value"] = text_of(o.valueCodeableConcept)
    elif o.valueBoolean is not None:
        lab["value"] = "sí" if o.valueBoolean else "no"
    else:
        reading.problem(f"{path}.value[x]", "the Observation needs a value: valueQuantity, valueString or "
                        "valueCodeableConcept (with text)")
        return None
    if unit:
        lab["unit"] = unit
    lab["abnormal"] = any(code not in (None, "N") for cc in o.interpretation or [] for _, code in codings(cc))
    return lab
