"""The hospital-stay record: what an EHR sends Alta to write an epicrisis from.

Field names are English (they are an API); values are Spanish clinical text. Every model forbids
unknown fields, so a misspelt key from an EHR is an error instead of silently lost data.

Validation messages never repeat the value they reject: a rejected value may be a patient's name
or identifier, and error messages end up in logs and client consoles.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from clinical.identifiers import check_identifier

# C0 controls (NUL, escape, ...) and DEL are never clinical text: they break storage, printing and
# the prompt. Tab, newline and carriage return are ordinary whitespace and stay.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def no_control_characters(value: str) -> str:
    """Refuse text holding a control character; the error names the field, never the value."""
    if _CONTROL.search(value):
        raise PydanticCustomError(
            "control_character", "contains a control character (NUL or another C0 code); remove it"
        )
    return value


Clean = AfterValidator(no_control_characters)
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500), Clean]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000), Clean]

# CIE-10 as used in Chile (WHO, one extra character) and Mexico/Spain (CIE-10-ES, up to four):
# a letter, two digits, then optionally a dot and 1-4 characters ("J18.9", "E11.65", "S72.001A").
CIE10_PATTERN = re.compile(r"^[A-Z][0-9]{2}(?:\.[0-9A-Z]{1,4})?$")


def today(info: ValidationInfo | None) -> dt.date:
    """The date that 'not in the future' is measured against; tests pass ``context={"today": d}``."""
    if info is not None and info.context and "today" in info.context:
        return info.context["today"]
    return dt.date.today()


class Schema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Sex(StrEnum):
    FEMALE = "F"
    MALE = "M"
    OTHER = "X"  # neither recorded as female nor male: the writer uses neutral wording


class IdentifierType(StrEnum):
    RUT = "RUT"  # Chile, rol único tributario / RUN, mod-11 check digit
    CURP = "CURP"  # Mexico, clave única de registro de población, check digit
    NSS = "NSS"  # Mexico, IMSS social security number (11 digits, Luhn)
    NHC = "NHC"  # número de historia clínica, hospital-specific
    DNI = "DNI"  # Spain, check letter
    NIE = "NIE"  # Spain, foreigners, check letter
    PASSPORT = "PASAPORTE"
    OTHER = "OTRO"


class Identifier(Schema):
    type: IdentifierType
    value: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40), Clean]

    @model_validator(mode="after")
    def _check_digit(self) -> Identifier:
        problem = check_identifier(self.type.value, self.value)
        if problem:
            raise PydanticCustomError("identifier_invalid", problem)
        return self


class Patient(Schema):
    name: Text
    sex: Sex
    birth_date: dt.date | None = None
    age_years: Annotated[int, Field(ge=0, le=130)] | None = Field(
        default=None, description="Age at admission, when the birth date is not known."
    )
    identifiers: list[Identifier] = Field(default_factory=list, max_length=10)
    weight_kg: Annotated[Decimal, Field(gt=0, le=400, max_digits=6, decimal_places=3)] | None = Field(
        default=None, description="Weight at admission in kg; required when a dose is per kg (children)."
    )

    @model_validator(mode="after")
    def _age_known(self) -> Patient:
        if self.birth_date is None and self.age_years is None:
            raise PydanticCustomError(
                "age_missing", "give the patient's birth_date or age_years"
            )
        return self


class AdmissionOrigin(StrEnum):
    EMERGENCY = "urgencia"
    OUTPATIENT = "ambulatorio"
    ELECTIVE = "electivo"
    TRANSFER = "traslado"
    OTHER = "otro"


class Admission(Schema):
    admitted_at: dt.datetime
    service: Text
    reason: LongText
    origin: AdmissionOrigin = AdmissionOrigin.EMERGENCY


class DischargeCondition(StrEnum):
    IMPROVED = "mejorado"
    STABLE = "estable"
    UNCHANGED = "sin cambios"
    WORSE = "empeorado"
    DECEASED = "fallecido"


class DischargeDestination(StrEnum):
    HOME = "domicilio"
    HOME_HOSPITALIZATION = "hospitalización domiciliaria"
    OTHER_HOSPITAL = "traslado a otro centro"
    LONG_TERM_CARE = "establecimiento de larga estadía"
    VOLUNTARY = "alta voluntaria"
    MORGUE = "anatomía patológica"


class Discharge(Schema):
    discharged_on: dt.date
    condition: DischargeCondition = DischargeCondition.IMPROVED
    destination: DischargeDestination = DischargeDestination.HOME


class Allergy(Schema):
    substance: Text
    reaction: Text | None = None


class DiagnosisKind(StrEnum):
    PRINCIPAL = "principal"
    SECONDARY = "secundario"


class Diagnosis(Schema):
    code: str = Field(description="CIE-10 code, e.g. J18.9; 'J189' is accepted and written J18.9.")
    description: Text
    kind: DiagnosisKind = DiagnosisKind.SECONDARY

    @field_validator("code", mode="before")
    @classmethod
    def _cie10(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        code = value.strip().upper()
        if "." not in code and len(code) > 3:
            code = f"{code[:3]}.{code[3:]}"
        if not CIE10_PATTERN.match(code):
            raise PydanticCustomError(
                "cie10_invalid",
                "not a CIE-10 code: expected a letter, two digits and an optional "
                "dot with 1-4 characters, e.g. J18.9",
            )
        return code


class Procedure(Schema):
    performed_on: dt.date
    description: Text
    code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20), Clean] | None = None


class Route(StrEnum):
    ORAL = "oral"
    INTRAVENOUS = "intravenosa"
    INTRAMUSCULAR = "intramuscular"
    SUBCUTANEOUS = "subcutánea"
    SUBLINGUAL = "sublingual"
    INHALED = "inhalatoria"
    NEBULIZED = "nebulizada"
    TOPICAL = "tópica"
    TRANSDERMAL = "transdérmica"
    RECTAL = "rectal"
    VAGINAL = "vaginal"
    OPHTHALMIC = "oftálmica"
    OTIC = "ótica"
    NASAL = "nasal"
    ENTERAL = "enteral"


Dose = Annotated[Decimal, Field(gt=0, max_digits=10, decimal_places=4)]
Unit = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20), Clean]
_COMBINATION = re.compile(r"^\s*(\d+(?:[.,]\d+)?)(?:\s*/\s*(\d+(?:[.,]\d+)?))+\s*$")
_COMBINATION_PART = re.compile(r"\d+(?:[.,]\d+)?")


def _combination(value: str) -> str:
    """A combination product's dose, one amount per component: "875/125" (written as the box says)."""
    if not _COMBINATION.match(value):
        raise PydanticCustomError(
            "combination_dose_invalid",
            "a dose is a positive number, or for a combination product one amount per component "
            "separated by '/', e.g. 875/125",
        )
    parts = [Decimal(p.replace(",", ".")) for p in _COMBINATION_PART.findall(value)]
    if any(p <= 0 for p in parts):
        raise PydanticCustomError("combination_dose_invalid", "every amount of a combination dose must be positive")
    return "/".join(format(p.normalize(), "f") for p in parts)


_SINGLE_DOSE = TypeAdapter(Dose)


def _dose(value: object) -> Decimal | str:
    """A single dose (Decimal) or a combination product's "875/125" (normalised string)."""
    if isinstance(value, str) and "/" in value:
        if len(value) > 40:
            raise PydanticCustomError("combination_dose_invalid", "a combination dose has at most 40 characters")
        return _combination(value)
    try:
        return _SINGLE_DOSE.validate_python(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        # pydantic's own type and message (e.g. greater_than), which never repeat the value
        raise PydanticCustomError(first["type"], first["msg"]) from None


DoseOrCombination = Annotated[
    Decimal | str,
    PlainValidator(_dose),
    WithJsonSchema({"anyOf": [
        {"type": "number", "exclusiveMinimum": 0},
        {"type": "string", "pattern": r"^\d+([.,]\d+)?(\s*/\s*\d+([.,]\d+)?)+$"},
    ]}),
]


def dose_parts(dose: Decimal | str) -> tuple[Decimal, ...]:
    """The amounts of a dose: one for a single drug, one per component for "875/125"."""
    if isinstance(dose, Decimal):
        return (dose,)
    return tuple(Decimal(p) for p in dose.split("/"))


def is_per_kg(unit: str) -> bool:
    """Whether a dose unit is per kilogram of body weight ("mg/kg", "mcg/kg/min")."""
    return bool(re.search(r"/\s*kg\b", unit, re.IGNORECASE))


class Medication(Schema):
    name: Text
    dose: DoseOrCombination = Field(
        description="A positive number; for a combination product one amount per component, '875/125' "
                    "(amoxicilina/ácido clavulánico 875/125 mg)."
    )
    unit: Unit = Field(description="Unit of the dose: mg, g, mcg, UI, mL, gotas, comprimido, puff; "
                                   "'mg/kg' for a per-kg dose (needs patient.weight_kg)")
    route: Route
    frequency: Text = Field(description="e.g. 'cada 8 horas', 'una vez al día'")
    duration: Text | None = Field(default=None, description="e.g. '7 días'; omit when indefinite")


class Lab(Schema):
    name: Text
    value: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60), Clean]
    unit: Unit | None = None
    taken_on: dt.date
    abnormal: bool = False


class VitalSigns(Schema):
    taken_at: dt.datetime
    systolic_mmhg: Annotated[int, Field(ge=30, le=300)] | None = None
    diastolic_mmhg: Annotated[int, Field(ge=10, le=200)] | None = None
    heart_rate_bpm: Annotated[int, Field(ge=10, le=300)] | None = None
    respiratory_rate_rpm: Annotated[int, Field(ge=2, le=80)] | None = None
    temperature_c: Annotated[Decimal, Field(ge=25, le=45, decimal_places=1)] | None = None
    spo2_percent: Annotated[int, Field(ge=30, le=100)] | None = None

    @model_validator(mode="after")
    def _something_measured(self) -> VitalSigns:
        measured = [
            self.systolic_mmhg, self.diastolic_mmhg, self.heart_rate_bpm,
            self.respiratory_rate_rpm, self.temperature_c, self.spo2_percent,
        ]
        if all(v is None for v in measured):
            raise PydanticCustomError("vitals_empty", "a vital-sign control needs at least one measurement")
        if (self.systolic_mmhg is None) != (self.diastolic_mmhg is None):
            raise PydanticCustomError("bp_incomplete", "blood pressure needs both systolic_mmhg and diastolic_mmhg")
        if self.systolic_mmhg is not None and self.diastolic_mmhg >= self.systolic_mmhg:  # type: ignore[operator]
            raise PydanticCustomError("bp_inverted", "diastolic_mmhg must be lower than systolic_mmhg")
        return self


class FollowUp(Schema):
    specialty: Text
    date: dt.date | None = None
    place: Text | None = None
    notes: Text | None = None


class HospitalStay(Schema):
    """One hospitalisation, from admission to discharge: the input of an epicrisis."""

    patient: Patient
    admission: Admission
    discharge: Discharge
    allergies: list[Allergy] | None = Field(
        default=None, description="[] means no known allergies; omit when not recorded."
    )
    medical_history: list[Text] = Field(default_factory=list, max_length=50)
    surgical_history: list[Text] = Field(default_factory=list, max_length=50)
    diagnoses: list[Diagnosis] = Field(min_length=1, max_length=30)
    procedures: list[Procedure] = Field(default_factory=list, max_length=50)
    inpatient_medications: list[Medication] = Field(default_factory=list, max_length=60)
    discharge_medications: list[Medication] = Field(default_factory=list, max_length=40)
    labs: list[Lab] = Field(default_factory=list, max_length=200)
    vital_signs: list[VitalSigns] = Field(default_factory=list, max_length=200)
    evolution: LongText | None = None
    discharge_instructions: list[Text] = Field(default_factory=list, max_length=30)
    follow_ups: list[FollowUp] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _coherent(self, info: ValidationInfo) -> HospitalStay:
        _check_stay(self, today(info))
        return self

    @property
    def principal_diagnosis(self) -> Diagnosis:
        return next(d for d in self.diagnoses if d.kind is DiagnosisKind.PRINCIPAL)

    @property
    def secondary_diagnoses(self) -> list[Diagnosis]:
        return [d for d in self.diagnoses if d.kind is DiagnosisKind.SECONDARY]

    @property
    def length_of_stay_days(self) -> int:
        """Days between admission and discharge; a same-day stay counts as 0."""
        return (self.discharge.discharged_on - self.admission.admitted_at.date()).days

    @property
    def age_at_admission(self) -> int:
        """Whole years at admission, from the birth date when known, else the recorded age."""
        born = self.patient.birth_date
        if born is None:
            assert self.patient.age_years is not None  # guaranteed by Patient._age_known
            return self.patient.age_years
        return _years_between(born, self.admission.admitted_at.date())


def field_errors(errors: list[dict]) -> list[dict]:
    """Pydantic errors as ``{"loc", "msg", "type"}``, without the rejected values (they may be PHI).

    Cross-field rules run on the whole record, so pydantic reports them at the record's location;
    their ``ctx.field`` ("discharge.discharged_on", "procedures[1].performed_on") becomes the
    location, and the message loses its "<field>: " prefix.
    """
    out = []
    for err in errors:
        loc = list(err.get("loc", ()))
        msg = err.get("msg", "invalid value")
        field = (err.get("ctx") or {}).get("field")
        if isinstance(field, str):
            loc += [int(p) if p.isdigit() else p for p in field.replace("[", ".").replace("]", "").split(".")]
            msg = msg.removeprefix(f"{field}: ")
        out.append({"loc": loc, "msg": msg, "type": err.get("type")})
    return out


def _error(field: str, kind: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(kind, "{field}: " + message, {"field": field})


def _check_stay(stay: HospitalStay, now: dt.date) -> None:
    """Cross-field rules a clinician expects; each error starts with the field it is about."""
    admitted = stay.admission.admitted_at.date()
    discharged = stay.discharge.discharged_on
    if admitted > now:
        raise _error("admission.admitted_at", "date_in_future", "admission date is in the future")
    if discharged > now:
        raise _error("discharge.discharged_on", "date_in_future", "discharge date is in the future")
    if discharged < admitted:
        raise _error("discharge.discharged_on", "discharge_before_admission", "discharge is before admission")
    born = stay.patient.birth_date
    if born is not None:
        if born > admitted:
            raise _error("patient.birth_date", "birth_after_admission", "birth date is after admission")
        if stay.patient.age_years is not None and _years_between(born, admitted) != stay.patient.age_years:
            raise _error("patient.age_years", "age_mismatch", "age_years does not match birth_date at admission")

    principals = [i for i, d in enumerate(stay.diagnoses) if d.kind is DiagnosisKind.PRINCIPAL]
    if not principals:
        raise _error("diagnoses", "principal_missing", "mark one diagnosis as kind 'principal'")
    if len(principals) > 1:
        raise _error("diagnoses", "principal_repeated", "only one diagnosis can be 'principal'")

    for i, proc in enumerate(stay.procedures):
        if not admitted <= proc.performed_on <= discharged:
            raise _error(f"procedures[{i}].performed_on", "outside_stay", "procedure date is outside the stay")
    for i, lab in enumerate(stay.labs):
        if not admitted <= lab.taken_on <= discharged:
            raise _error(f"labs[{i}].taken_on", "outside_stay", "lab date is outside the stay")
    for i, vs in enumerate(stay.vital_signs):
        if not admitted <= vs.taken_at.date() <= discharged:
            raise _error(f"vital_signs[{i}].taken_at", "outside_stay", "vital-sign control is outside the stay")
    for i, fu in enumerate(stay.follow_ups):
        if fu.date is not None and fu.date < discharged:
            raise _error(f"follow_ups[{i}].date", "follow_up_before_discharge", "follow-up is before discharge")

    if stay.patient.weight_kg is None:
        for group in ("inpatient_medications", "discharge_medications"):
            for i, med in enumerate(getattr(stay, group)):
                if is_per_kg(med.unit):
                    raise _error(f"{group}[{i}].unit", "weight_missing",
                                 "a per-kg dose needs the patient's weight: give patient.weight_kg")

    if stay.discharge.condition is DischargeCondition.DECEASED:
        if stay.discharge_medications or stay.follow_ups:
            raise _error(
                "discharge.condition", "deceased_with_plan",
                "a deceased patient has no discharge_medications or follow_ups; remove them",
            )


def _years_between(born: dt.date, on: dt.date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))
