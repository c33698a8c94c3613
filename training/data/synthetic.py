"""Synthetic Chilean and Mexican hospital stays: coherent, valid records to train and evaluate epicrisis models.

A stay is drawn from the curated catalog (``training/data/catalog``): a service, a principal diagnosis
and its clinical family (what is done, given and measured for it), a patient whose age and sex fit
both, dates that respect the record's rules (procedures and labs inside the stay, controls after
discharge) and admission and evolution texts from per-family phrase templates. Every record is
validated by ``HospitalStay`` before it is returned. Nothing reads the clock or the environment: the
same ``random.Random`` state always gives the same record.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any, Literal

from clinical.record import HospitalStay, is_per_kg
from clinical.writer.spanish import lower_first
from training.data.catalog import Catalog, Diagnosis, Pick, load_catalog, people, phrases, vitals

__all__ = ["LIMITS", "TODAY", "Country", "Limits", "Profile", "generate_stay", "generate_stays"]

Country = Literal["CL", "MX"]
Profile = Literal["compact", "full"]
TODAY = dt.date(2026, 11, 21)  # the pinned "today" records are validated against


@dataclass(frozen=True)
class Limits:
    """How much of a family's material one record keeps; "compact" fits a small demo model's context."""

    diagnoses: int
    procedures: int
    inpatient: int
    discharge: int
    labs: tuple[int, int]
    vitals: tuple[int, int]
    instructions: tuple[int, int]
    follow_ups: tuple[int, int]
    history: int
    courses: int  # phrases of clinical course in the evolution text
    optional: float  # probability of keeping an optional catalog slot


LIMITS: dict[str, Limits] = {
    "compact": Limits(3, 2, 2, 3, (0, 3), (0, 2), (1, 3), (0, 2), 2, 1, 0.3),
    "full": Limits(7, 6, 6, 8, (2, 10), (1, 4), (2, 6), (1, 3), 6, 2, 0.6),
}
_INSTITUTIONS = {"Consulta", "Control", "Programa", "Clínica", "Policlínico", "Unidad", "Comité", "Centro"}
_OUTCOMES = {"mejorado": "domicilio", "estable": "domicilio", "sin cambios": "alta voluntaria",
             "empeorado": "traslado a otro centro", "fallecido": "anatomía patológica"}


def generate_stay(rng: random.Random, *, country: Country | None = None, profile: Profile = "full",
                  today: dt.date = TODAY) -> HospitalStay:
    """One synthetic hospital stay, valid by construction (validated against ``today``)."""
    if profile not in LIMITS:
        raise ValueError(f"profile must be 'compact' or 'full', not {profile!r}")
    if country not in (None, "CL", "MX"):
        raise ValueError(f"country must be 'CL', 'MX' or None (either), not {country!r}")
    chosen = country or rng.choice(("CL", "MX"))
    data = _Builder(rng, load_catalog(), chosen, LIMITS[profile], today).record()
    return HospitalStay.model_validate(data, context={"today": today})


def generate_stays(n: int, seed: int | str, **kwargs: Any) -> list[HospitalStay]:
    """``n`` stays from one seeded generator: the same seed always gives the same list."""
    rng = random.Random(seed)
    return [generate_stay(rng, **kwargs) for _ in range(n)]


def _weighted(rng: random.Random, items: list, weights: list[float]):
    """One item drawn with the given relative weights."""
    return rng.choices(items, weights=weights, k=1)[0]


def _age_class(age: int, days: int) -> str:
    """The catalog's age class: "neo" (under 28 days), "nino" (under 15 years) or "adulto"."""
    return "neo" if age == 0 and days < 28 else "nino" if age < 15 else "adulto"


class _Builder:
    """Draws one record as the JSON-like dict an EHR would send."""

    def __init__(self, rng: random.Random, catalog: Catalog, country: str, limits: Limits, today: dt.date):
        self.rng, self.cat, self.country, self.limits, self.today = rng, catalog, country, limits, today
        self.compact = limits is LIMITS["compact"]

    def record(self) -> dict[str, Any]:
        """The whole record; the order of the draws is part of the seed's contract, keep it stable."""
        self._case()
        self._dates()
        allergies = self._allergies()
        self._comorbidities()
        procedures = self._procedures()
        given = self._choose(self.family.inpatient, self._med_ok)
        # Drugs before fluids, so that a compact record that keeps two keeps the ones that matter.
        given.sort(key=lambda m: self.cat.medications[m].group in ("solucion", "electrolito"))
        given = given[: self.rng.randint(0, self.limits.inpatient) if self.compact else self.limits.inpatient]
        inpatient = [self._medication(m) for m in given]
        discharge = [] if self.deceased else self._discharge_medications()
        if self.compact:  # a short record only mentions the chronic conditions whose treatment it lists
            names = {m["name"] for m in discharge}
            kept = [i for i, (_, regimen) in enumerate(self.history)
                    if all(self.cat.medications[m].name in names for m in regimen)]
            self.comorbid, self.history = [self.comorbid[i] for i in kept], [self.history[i] for i in kept]
        controls = self._vital_signs()
        data: dict[str, Any] = {
            "patient": people.patient(self.rng, self.cat, country=self.country, sex=self.sex, born=self.born,
                                      age=self.age, today=self.today, brief=self.compact),
            "admission": {"admitted_at": self.admitted_at.isoformat(), "service": self.service.names[self.country],
                          "reason": self._reason(controls), "origin": self.origin},
            "discharge": {"discharged_on": self.discharged.isoformat(), "condition": self.condition,
                          "destination": self.destination},
            "diagnoses": self._diagnoses(allergies),
            "medical_history": self._medical_history(discharge),
            "surgical_history": self._surgical_history(),
            "procedures": procedures,
            "inpatient_medications": inpatient,
            "discharge_medications": discharge,
            "labs": self._labs(),
            "vital_signs": controls,
            "evolution": self._evolution([self.cat.medications[m] for m in given]),
            "discharge_instructions": [] if self.deceased else self._instructions(),
            "follow_ups": [] if self.deceased else self._follow_ups(),
        }
        if allergies is not None:
            data["allergies"] = allergies
        # Children's records carry their weight (per-kg doses are prescribed against it), and so
        # does any record with a per-kg prescription.
        meds = [*data["inpatient_medications"], *data["discharge_medications"]]
        if self.age < 15 or any(is_per_kg(m["unit"]) for m in meds):
            data["patient"]["weight_kg"] = f"{self.weight:.1f}"
        return data

    # --- who, where, when ---------------------------------------------------------------------

    def _case(self) -> None:
        """Service, principal diagnosis and its family, then an age, sex and weight that fit both."""
        rng, cat = self.rng, self.cat
        services = list(cat.services.values())
        self.service = _weighted(rng, services, [s.weight for s in services])
        lo_s, hi_s = self.service.ages
        candidates = [d for d in cat.diagnoses.values()
                      if d.principal and self.service.key in d.services and d.ages[0] <= hi_s and d.ages[1] >= lo_s]
        self.dx: Diagnosis = _weighted(rng, candidates, [d.weight for d in candidates])
        self.family = cat.families[self.dx.family]
        lo, hi = max(lo_s, self.dx.ages[0]), min(hi_s, self.dx.ages[1])
        mode = self.dx.age_mode if self.dx.age_mode is not None and lo <= self.dx.age_mode <= hi else lo
        self.age = min(hi, int(rng.triangular(lo, hi + 1, mode)))
        self.days = rng.randint(0, 20) if self.service.key == "neo" else rng.randint(30, 364) if self.age == 0 else 0
        self.age_class = _age_class(self.age, self.days)
        self.sex = self.dx.sex or ("X" if rng.random() < 0.01 else rng.choice("FM"))
        if self.age_class == "neo":
            self.weight = 3.2 + rng.uniform(-0.6, 0.6)
        elif self.age_class == "nino":
            self.weight = 3.5 + 0.6 * self.days / 30 if self.age == 0 else 2 * self.age + 8 + rng.uniform(-2, 4)
        else:
            self.weight = rng.uniform(52, 92)

    def _dates(self) -> None:
        """Length of stay, admission time by origin, birth date, and how (and where to) the stay ends."""
        rng, family = self.rng, self.family
        self.los = rng.randint(*family.los)
        self.origin = self.dx.origin or _weighted(rng, [o for o, _ in family.origins], [w for _, w in family.origins])
        latest = self.today - dt.timedelta(days=self.los + 1)
        first = dt.date(self.today.year - 5, 1, 1)  # admissions over the last five years or so
        day = first + dt.timedelta(days=rng.randint(0, (latest - first).days))
        minutes = (rng.randint(420, 570) if self.origin == "electivo" else rng.randint(480, 1020)
                   if self.origin == "ambulatorio" else rng.randint(0, 1439))
        self.admitted_at = dt.datetime.combine(day, dt.time(minutes // 60, minutes % 60 // 5 * 5))
        self.admitted, self.discharged = day, day + dt.timedelta(days=self.los)
        if self.age == 0:
            self.born = day - dt.timedelta(days=self.days)
        else:
            anchor = day.replace(day=28) if (day.month, day.day) == (2, 29) else day
            self.born = anchor.replace(year=anchor.year - self.age) - dt.timedelta(days=rng.randint(0, 364))
        r, full = rng.random(), not self.compact
        dies = full and self.family.severity == "high" and self.age >= 40 and r < 0.05
        self.condition = ("fallecido" if dies else "empeorado" if full and 0.05 <= r < 0.07
                          else "sin cambios" if full and 0.07 <= r < 0.085 else "estable" if r < 0.25 else "mejorado")
        self.deceased = self.condition == "fallecido"
        self.destination = _OUTCOMES[self.condition]
        if self.condition == "mejorado" and full and rng.random() < 0.08:
            older = self.age >= 75 and self.family.key in ("fractura_cadera", "acv_isquemico")
            self.destination = "establecimiento de larga estadía" if older else "hospitalización domiciliaria"

    # --- clinical content -----------------------------------------------------------------------

    def _allergies(self) -> list[dict[str, str]] | None:
        rng = self.rng
        self.allergy_classes: set[str] = set()
        r = rng.random()
        if r < 0.3:
            return None
        if r < 0.82 or self.age_class == "neo":
            return []
        chosen = rng.sample(self.cat.allergens, 1 if self.compact or rng.random() < 0.7 else 2)
        out = []
        for allergen in chosen:
            self.allergy_classes |= allergen.classes
            reaction = rng.choice(allergen.reactions)
            out.append({"substance": allergen.substance, **({"reaction": reaction} if reaction else {})})
        return out

    def _comorbidities(self) -> None:
        """Chronic conditions for the age and sex (pregnancy-safe ones in obstetrics) with their regimens."""
        rng, age = self.rng, self.age
        pregnant = self.dx.code.startswith("O")
        eligible = [c for c in self.cat.comorbidities
                    if c.ages[0] <= age <= c.ages[1] and c.sex in (None, self.sex) and (c.in_pregnancy or not pregnant)
                    and c.code != self.dx.code and self.cat.diagnoses[c.code].family != self.family.key]
        wanted = (0 if self.age_class == "neo" else rng.randint(0, 1) if age < 40 else rng.randint(0, 3) if age < 65
                  else rng.randint(1, 4))
        self.comorbid, self.chronic_meds, self.history = [], [], []
        while eligible and len(self.comorbid) < min(wanted, self.limits.history):
            item = _weighted(rng, eligible, [c.weight for c in eligible])
            eligible = [c for c in eligible if c.code != item.code]
            regimens = [r for r in item.treatments if all(self._med_ok(m) for m in r)]
            regimen = rng.choice(regimens) if regimens else ()
            self.comorbid.append(item.code)
            self.chronic_meds.extend(regimen)
            self.history.append((item.history[self.country], regimen))

    def _medical_history(self, discharge: list[dict[str, str]]) -> list[str]:
        """History items; "en tratamiento con X" only when X is among the discharge prescriptions."""
        prescribed = {m["name"] for m in discharge}
        out = []
        for text, regimen in self.history[: self.limits.history]:
            names = [self.cat.medications[m].name for m in regimen]
            if names and names[0] in prescribed and self.rng.random() < 0.3:
                text += " en tratamiento con " + lower_first(names[0])
            out.append(text)
        return out

    def _choose(self, picks: tuple[Pick, ...], ok=lambda _: True) -> list[str]:
        """One option per slot, honouring the diagnosis's preferences; labs keep their direction."""
        chosen = []
        for pick in picks:
            options = [(o, d) for o, d in zip(pick.options, pick.directions or ("",) * len(pick.options), strict=True)
                       if o not in self.dx.avoid and ok(o)]
            preferred = [(o, d) for o, d in options if o in self.dx.prefer]
            if preferred:
                options = preferred
            elif pick.optional and self.rng.random() >= self.limits.optional:
                continue
            if options:
                option, direction = self.rng.choice(options)
                chosen.append(option + self.dx.lab_directions.get(option, direction))
        return chosen

    def _diagnoses(self, allergies: list[dict[str, str]] | None) -> list[dict[str, str]]:
        codes = [c for c in self._choose(self.family.secondary)]
        codes += [c for c in self.comorbid if self.rng.random() < 0.85]
        if any(a["substance"] == "Penicilina" for a in allergies or ()) and self.rng.random() < 0.5:
            codes.append("Z88.0")
        unique = list(dict.fromkeys(c for c in codes if c != self.dx.code))
        unique = unique[: self.rng.randint(0, self.limits.diagnoses - 1) if self.compact else self.limits.diagnoses - 1]
        chronic = {code: text for code, (text, _) in zip(self.comorbid, self.history, strict=True)}
        out = [{"code": self.dx.code, "description": self._dx_text(self.dx), "kind": "principal"}]
        return out + [{"code": c, "description": chronic[c] if c in chronic and self.rng.random() < 0.7
                       else self._dx_text(self.cat.diagnoses[c]), "kind": "secundario"} for c in unique]

    def _dx_text(self, dx: Diagnosis) -> str:
        return dx.clinical if self.rng.random() < 0.8 else dx.description

    def _day(self, when: str) -> dt.date:
        last = self.los
        if when == "ingreso":
            offset = 0
        elif when in ("temprano", "cirugia"):
            offset = 0 if self.origin == "electivo" else self.rng.randint(0, min(1, last))
        elif when == "intermedio":
            offset = self.rng.randint(min(1, last), max(min(1, last), last - 1))
        else:
            offset = self.rng.randint(0, last)
        return self.admitted + dt.timedelta(days=offset)

    def _procedures(self) -> list[dict[str, str]]:
        cat = self.cat
        ids = self._choose(self.family.procedures, lambda p: "*" in cat.procedures[p].ages
                           or self.age_class in cat.procedures[p].ages)
        ids.sort(key=lambda p: cat.procedures[p].kind not in ("cirugia", "intervencion"))  # surgery survives the cap
        keep = self.rng.randint(min(1, len(ids)), self.limits.procedures) if self.compact else self.limits.procedures
        ids = ids[:keep]
        self.implied_labs = [cat.procedures[p].implies for p in ids if cat.procedures[p].implies]
        self.main_procedure = next((cat.procedures[p].names[self.country] for p in ids
                                    if cat.procedures[p].kind in ("cirugia", "intervencion")), None)
        out = []
        for pid in ids:
            proc = cat.procedures[pid]
            item = {"performed_on": self._day(proc.when).isoformat(), "description": proc.names[self.country]}
            if proc.code and self.rng.random() < 0.5:
                item["code"] = proc.code
            out.append(item)
        return sorted(out, key=lambda p: p["performed_on"])

    def _med_ok(self, mid: str) -> bool:
        med = self.cat.medications[mid]
        return ((med.allergy is None or med.allergy not in self.allergy_classes)
                and med.country in (None, self.country) and ("*" in med.ages or self.age_class in med.ages))

    def _medication(self, mid: str) -> dict[str, str]:
        return self.cat.medications[mid].prescribe(self.rng, self.weight)

    def _discharge_medications(self) -> list[dict[str, str]]:
        """The family's prescriptions, then chronic ones; one drug per drug and per exclusive class."""
        ids = self._choose(self.family.discharge, self._med_ok)
        if not ids:  # a living patient leaves with at least one prescription
            ids = self._choose(tuple(Pick(p.options) for p in self.family.discharge[:1]), self._med_ok)
        ids = ids or [m for m in ("paracetamol", "paracetamol_ped") if self._med_ok(m)][:1]
        taken, out = set(), []
        for mid in ids + [m for m in self.chronic_meds if self._med_ok(m) and m not in self.dx.avoid]:
            med = self.cat.medications[mid]
            keys = {med.drug, med.exclusive or med.drug}
            if keys & taken:
                continue
            taken |= keys
            out.append(self._medication(mid))
        return out[: self.rng.randint(1, self.limits.discharge)]

    def _labs(self) -> list[dict[str, Any]]:
        """Admission results (abnormal as the disease makes them) and, for some, a control before discharge."""
        out = []
        tokens = {t.rstrip("+-"): t for t in self._choose(self.family.labs)}
        tokens |= {t.rstrip("+-"): t for t in self.implied_labs}  # a transfusion implies a low hemoglobin
        for token in tokens.values():
            lab_id, direction = (token[:-1], token[-1]) if token[-1] in "+-" else (token, "")
            lab = self.cat.labs[lab_id]
            taken = self.admitted + dt.timedelta(days=self.rng.randint(0, min(1, self.los)))
            value = lab.draw(self.rng, direction)
            out.append(self._lab(lab, value, taken))
            if not isinstance(value, str) and lab.result(value)[1] and self.los >= 3 and self.rng.random() < 0.5:
                control = lab.recovered(value, self.rng.uniform(0.4, 1.0))
                out.append(self._lab(lab, control, self.discharged - dt.timedelta(days=self.rng.randint(0, 1))))
        lo, hi = self.limits.labs
        return sorted(out[: self.rng.randint(lo, hi)], key=lambda item: item["taken_on"])

    def _lab(self, lab, value: str | float, taken: dt.date) -> dict[str, Any]:
        text, abnormal = lab.result(value)
        item = {"name": lab.names[self.country], "value": text, "taken_on": taken.isoformat(), "abnormal": abnormal}
        return item | ({"unit": lab.unit} if lab.unit else {})

    def _vital_signs(self) -> list[dict[str, Any]]:
        """An admission control shaped by the family's flags, then later controls of a recovering patient."""
        count = self.rng.randint(*self.limits.vitals) if self.los else min(1, self.limits.vitals[1])
        count = min(count, 1) if self.deceased else count  # no "control" after a death
        stamps = [self.admitted_at + dt.timedelta(minutes=self.rng.randint(10, 50))]
        days = sorted(self.rng.randint(1, self.los) for _ in range(count - 2)) + [self.los]
        stamps += [dt.datetime.combine(self.admitted + dt.timedelta(days=d), dt.time(self.rng.randint(7, 10), 0))
                   for d in days[-(count - 1):]] if count > 1 else []
        stamps = [s for s in stamps if s.date() <= self.discharged][:count]
        return [self._vitals(s, self.family.vitals if i == 0 else frozenset()) for i, s in enumerate(stamps)]

    def _vitals(self, taken_at: dt.datetime, flags: frozenset[str]) -> dict[str, Any]:
        infant = self.age_class != "adulto" and self.age < 1
        return {"taken_at": taken_at.isoformat(), **vitals.draw(self.rng, self.age, infant, flags, brief=self.compact)}

    def _note_keys(self) -> list[str]:
        """Follow-up notes that fit this stay: glucose records only for diabetics, biopsy only after one..."""
        codes = [self.dx.code, *self.comorbid]
        return [key for key, prefixes in self.cat.note_codes.items() if any(c.startswith(prefixes) for c in codes)]

    # --- texts ----------------------------------------------------------------------------------

    def _texts(self, kind: str, values: dict[str, str | None], count: int = 1) -> list[str]:
        story = self.family.story if kind in ("motivo", "curso") else "*"
        return phrases.fill(self.rng, phrases.templates(self.cat, story, kind, self.age_class, self.country), values, count)

    def _values(self, vitals: dict[str, Any], inpatient=()) -> dict[str, str | None]:
        return phrases.placeholders(self.rng, self.cat, country=self.country, family=self.family,
                                    diagnosis=self.dx.clinical, los=self.los, vitals=vitals, inpatient=list(inpatient),
                                    procedure=self.main_procedure)

    def _reason(self, vitals: list[dict[str, Any]]) -> str:
        first = vitals[0] if vitals else self._vitals(self.admitted_at, self.family.vitals)
        reason = (self._texts("motivo", self._values(first)) or [self.dx.clinical + "."])[0]
        places = self.cat.places
        if self.origin == "traslado":
            reason = f"Traslado desde {self.rng.choice(places[(self.country, 'hospital')])}. {reason}"
        elif self.origin == "ambulatorio" and self.rng.random() < 0.5:
            reason = f"Consulta derivada desde {self.rng.choice(places[(self.country, 'aps')])}. {reason}"
        return reason

    def _evolution(self, inpatient: list) -> str | None:
        values = self._values({}, inpatient)
        course = "curso_grave" if self.condition in ("fallecido", "empeorado") else "curso"
        parts = self._texts(course, values, self.rng.randint(1, self.limits.courses))
        kind = {"fallecido": "fallece", "empeorado": "traslado", "sin cambios": "voluntaria"}.get(self.condition, "cierre")
        if kind != "cierre" or not self.compact:
            parts += self._texts(kind, values)
        return " ".join(parts) or None

    def _surgical_history(self) -> list[str]:
        if self.compact and len(self.history) >= self.limits.history or self.rng.random() > 0.35:
            return []
        fits = [s for s in self.cat.surgical_history if s.ages[0] <= self.age <= s.ages[1]
                and s.sex in (None, self.sex) and self.family.key not in s.excludes]
        out = []
        for item in self.rng.sample(fits, min(len(fits), self.rng.randint(1, 2))):
            text = item.text[self.country]
            first = self.born.year + max(item.ages[0], 18)
            if item.with_year and self.rng.random() < 0.6 and first < self.admitted.year:
                text += f" ({self.rng.randint(first, self.admitted.year - 1)})"
            out.append(text)
        return out[: max(0, self.limits.history - len(self.history))]

    def _instructions(self) -> list[str]:
        keys = self._choose(self.family.instructions)
        lo, hi = self.limits.instructions
        texts = [self.cat.instructions[k][self.country] for k in keys][: self.rng.randint(lo, hi)]
        return texts or [self.cat.instructions["reposo_relativo"][self.country]]

    def _follow_ups(self) -> list[dict[str, str]]:
        """Controls after discharge: the service's own clinic first, primary care, specialists; dates and places."""
        rng, cat = self.rng, self.cat
        own = self.service.follow_up[self.country]
        out: dict[str, dict[str, str]] = {}
        for pick in self.family.follow_ups:
            if pick.optional and rng.random() >= self.limits.optional:
                continue
            child = self.age_class != "adulto"  # "Nefrología infantil" only for children, and first for them
            options = [o for o in pick.options if ("infantil" in o) == child] or list(pick.options)
            if not child:
                options = [o for o in options if "infantil" not in o]
            if not options:
                continue
            token = own if own in options else rng.choice(options)
            primary = "@aps" in token
            name = own if token == "@service" else cat.terms["primary_care"][self.country] if token == "@aps" else token
            name = cat.specialties.get(name, name) if self.country == "MX" else name
            name = name.replace("@aps", cat.terms["aps"][self.country])
            item = {"specialty": name}
            if rng.random() < 0.85:
                item["date"] = (self.discharged + dt.timedelta(days=rng.randint(5, 45))).isoformat()
            if primary and rng.random() < 0.7:
                item["place"] = rng.choice(cat.places[(self.country, "aps")])
            elif not primary and rng.random() < 0.5:
                hospital = rng.choice(cat.places[(self.country, "hospital")])
                clinic = rng.choice(cat.places[(self.country, "clinic")])
                institutional = name.split()[0] in _INSTITUTIONS  # "Consulta externa de Consulta de..." reads badly
                item["place"] = hospital if institutional else clinic.format(specialty=name, hospital=hospital)
            if rng.random() < 0.25:
                item["notes"] = cat.instructions[rng.choice(self._note_keys())][self.country]
            out.setdefault(name, item)
        lo, hi = self.limits.follow_ups
        return list(out.values())[: rng.randint(lo, hi)]
