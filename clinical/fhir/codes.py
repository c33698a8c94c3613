"""The systems and codes Alta's FHIR mapping reads and writes, in one place (the README's table too).

Alta speaks FHIR R4. ``fhir.resources`` 8 ships R5 by default and keeps R4B (4.3.0) models under
``fhir.resources.R4B``; R4B changed no element this mapping uses (Patient, Encounter, Condition,
Procedure, MedicationRequest/Statement, AllergyIntolerance, Observation, Appointment, ServiceRequest,
CarePlan, ClinicalImpression, Composition, Provenance, DocumentReference), so R4B's models parse and
validate R4 JSON here. Nothing imports the R5 models.

URIs under ``https://fhir.alta.health`` are Alta's own namespaces (identifier systems with no
national URI that Alta knows of, and three extensions); they name, they do not resolve.
"""

from __future__ import annotations

from clinical.record import (
    AdmissionOrigin,
    DischargeCondition,
    DischargeDestination,
    IdentifierType,
    Route,
    Sex,
)

ALTA = "https://fhir.alta.health"

# --- identifiers -------------------------------------------------------------------------------
# What Alta writes: one system per identifier type.
IDENTIFIER_SYSTEMS: dict[IdentifierType, str] = {
    IdentifierType.RUT: f"{ALTA}/sid/cl-run",
    IdentifierType.CURP: f"{ALTA}/sid/mx-curp",
    IdentifierType.NSS: f"{ALTA}/sid/mx-imss-nss",
    IdentifierType.NHC: f"{ALTA}/sid/nhc",
    IdentifierType.DNI: f"{ALTA}/sid/es-dni",
    IdentifierType.NIE: f"{ALTA}/sid/es-nie",
    IdentifierType.PASSPORT: f"{ALTA}/sid/passport",
    IdentifierType.OTHER: f"{ALTA}/sid/other",
}
# What Alta also reads, by system. Only URIs whose meaning is certain are listed.
IDENTIFIER_SYSTEM_ALIASES: dict[str, IdentifierType] = {
    "http://regcivil.cl/Validacion/RUN": IdentifierType.RUT,
    "https://regcivil.cl/Validacion/RUN": IdentifierType.RUT,
}
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
CL_CORE_ID_TYPE = "https://hl7chile.cl/fhir/ig/clcore/CodeSystem/CSTipoIdentificador"
CL_CORE_IDENTIFICADORES = "https://hl7chile.cl/fhir/ig/clcore/CodeSystem/CSIdentificadores"
# By ``Identifier.type`` when the system is not one of the above (v2 table 0203, HL7 Chile CL Core).
IDENTIFIER_TYPE_CODES: dict[tuple[str, str], IdentifierType] = {
    (V2_0203, "MR"): IdentifierType.NHC,
    (V2_0203, "PPN"): IdentifierType.PASSPORT,
    (V2_0203, "NNCHL"): IdentifierType.RUT,
    (V2_0203, "NNMEX"): IdentifierType.CURP,
    (V2_0203, "NNESP"): IdentifierType.DNI,
    (CL_CORE_ID_TYPE, "1"): IdentifierType.RUT,
    (CL_CORE_ID_TYPE, "5"): IdentifierType.PASSPORT,
    (CL_CORE_IDENTIFICADORES, "1"): IdentifierType.RUT,
    (CL_CORE_IDENTIFICADORES, "3"): IdentifierType.PASSPORT,
}
# The type coding Alta writes next to its own system, so other readers know the kind too.
IDENTIFIER_TYPE_OUT: dict[IdentifierType, str] = {
    IdentifierType.RUT: "NNCHL", IdentifierType.CURP: "NNMEX", IdentifierType.NHC: "MR",
    IdentifierType.DNI: "NNESP", IdentifierType.PASSPORT: "PPN",
}

GENDER_OUT: dict[Sex, str] = {Sex.FEMALE: "female", Sex.MALE: "male", Sex.OTHER: "other"}
GENDER_IN: dict[str, Sex] = {"female": Sex.FEMALE, "male": Sex.MALE, "other": Sex.OTHER, "unknown": Sex.OTHER}

# --- diagnoses -----------------------------------------------------------------------------------
# ICD-10 and its national variants (CIE-10, ICD-10-CM, ...) give the record's CIE-10 code.
ICD10 = "http://hl7.org/fhir/sid/icd-10"
ICD10_PREFIX = "http://hl7.org/fhir/sid/icd-10-"  # icd-10-cm, icd-10-nl, icd-10-de, ...
ICD10_OIDS = frozenset({"urn:oid:2.16.840.1.113883.6.3", "urn:oid:2.16.840.1.113883.6.90"})
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
NO_KNOWN_ALLERGY = frozenset({"716186003", "409137002", "428607008", "429625007"})  # SNOMED "no known ... allergy"


def is_icd10(system: str | None) -> bool:
    return system is not None and (system == ICD10 or system.startswith(ICD10_PREFIX) or system in ICD10_OIDS)


# --- encounter -----------------------------------------------------------------------------------
V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
V3_PRIORITY = "http://terminology.hl7.org/CodeSystem/v3-ActPriority"
ADMIT_SOURCE = "http://terminology.hl7.org/CodeSystem/admit-source"
DISCHARGE_DISPOSITION = "http://terminology.hl7.org/CodeSystem/discharge-disposition"
INPATIENT_CLASSES = frozenset({"IMP", "ACUTE", "NONAC", "EMER", "SS", "OBSENC"})
ADMIT_SOURCE_OUT: dict[AdmissionOrigin, str] = {
    AdmissionOrigin.EMERGENCY: "emd", AdmissionOrigin.OUTPATIENT: "outp",
    AdmissionOrigin.TRANSFER: "hosp-trans", AdmissionOrigin.OTHER: "other",
}  # electivo: Encounter.priority EL (admit-source has no elective code)
ADMIT_SOURCE_IN: dict[str, AdmissionOrigin] = {
    "emd": AdmissionOrigin.EMERGENCY, "outp": AdmissionOrigin.OUTPATIENT, "gp": AdmissionOrigin.OUTPATIENT,
    "mp": AdmissionOrigin.OUTPATIENT, "hosp-trans": AdmissionOrigin.TRANSFER, "nursing": AdmissionOrigin.TRANSFER,
    "psych": AdmissionOrigin.TRANSFER, "rehab": AdmissionOrigin.TRANSFER, "born": AdmissionOrigin.OTHER,
    "other": AdmissionOrigin.OTHER,
}
DISPOSITION_OUT: dict[DischargeDestination, str] = {
    DischargeDestination.HOME: "home", DischargeDestination.HOME_HOSPITALIZATION: "alt-home",
    DischargeDestination.OTHER_HOSPITAL: "other-hcf", DischargeDestination.LONG_TERM_CARE: "long",
    DischargeDestination.VOLUNTARY: "aadvice", DischargeDestination.MORGUE: "exp",
}
DISPOSITION_IN: dict[str, DischargeDestination] = {
    **{code: dest for dest, code in DISPOSITION_OUT.items()},
    "hosp": DischargeDestination.OTHER_HOSPITAL, "psy": DischargeDestination.OTHER_HOSPITAL,
    "rehab": DischargeDestination.OTHER_HOSPITAL, "snf": DischargeDestination.LONG_TERM_CARE,
}
# US producers (Synthea, UB-04 billing) code the disposition with NUBC patient status codes.
NUBC_DISCHARGE = "http://www.nubc.org/patient-discharge"
NUBC_DISPOSITION_IN: dict[str, DischargeDestination] = {
    "01": DischargeDestination.HOME, "02": DischargeDestination.OTHER_HOSPITAL,
    "03": DischargeDestination.LONG_TERM_CARE, "06": DischargeDestination.HOME_HOSPITALIZATION,
    "07": DischargeDestination.VOLUNTARY, "20": DischargeDestination.MORGUE,
}
EXT_DISCHARGE_CONDITION = f"{ALTA}/StructureDefinition/discharge-condition"
DISCHARGE_CONDITIONS = {c.value: c for c in DischargeCondition}

# --- medications ---------------------------------------------------------------------------------
MEDREQ_CATEGORY = "http://terminology.hl7.org/CodeSystem/medicationrequest-category"
MEDSTMT_CATEGORY = "http://terminology.hl7.org/CodeSystem/medication-statement-category"
INPATIENT_CATEGORIES = frozenset({"inpatient"})
DISCHARGE_CATEGORIES = frozenset({"discharge", "outpatient", "community", "patientspecified"})
EXT_COMBINATION_DOSE = f"{ALTA}/StructureDefinition/combination-dose"
EXT_DURATION = f"{ALTA}/StructureDefinition/medication-duration"
# SNOMED CT route of administration; Route.text carries Alta's own value (inhalatoria vs nebulizada).
ROUTE_SNOMED: dict[Route, tuple[str, str]] = {
    Route.ORAL: ("26643006", "Oral route"),
    Route.INTRAVENOUS: ("47625008", "Intravenous route"),
    Route.INTRAMUSCULAR: ("78421000", "Intramuscular route"),
    Route.SUBCUTANEOUS: ("34206005", "Subcutaneous route"),
    Route.SUBLINGUAL: ("37839007", "Sublingual route"),
    Route.INHALED: ("447694001", "Respiratory tract route"),
    Route.NEBULIZED: ("447694001", "Respiratory tract route"),
    Route.TOPICAL: ("6064005", "Topical route"),
    Route.TRANSDERMAL: ("45890007", "Transdermal route"),
    Route.RECTAL: ("37161004", "Rectal route"),
    Route.VAGINAL: ("16857009", "Vaginal route"),
    Route.OPHTHALMIC: ("54485002", "Ophthalmic route"),
    Route.OTIC: ("10547007", "Otic route"),
    Route.NASAL: ("46713006", "Nasal route"),
    Route.ENTERAL: ("417985001", "Enteral route"),
}
ROUTE_BY_SNOMED: dict[str, Route] = {}
for _route, (_code, _display) in ROUTE_SNOMED.items():
    ROUTE_BY_SNOMED.setdefault(_code, _route)  # 447694001 reads as inhalatoria without Route.text

# --- observations --------------------------------------------------------------------------------
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
VITALS_PANEL = "85353-1"
BP_PANEL = "85354-9"
SYSTOLIC, DIASTOLIC = "8480-6", "8462-4"
# LOINC -> (VitalSigns field, UCUM unit Alta writes, display)
VITALS: dict[str, tuple[str, str, str]] = {
    SYSTOLIC: ("systolic_mmhg", "mm[Hg]", "Systolic blood pressure"),
    DIASTOLIC: ("diastolic_mmhg", "mm[Hg]", "Diastolic blood pressure"),
    "8867-4": ("heart_rate_bpm", "/min", "Heart rate"),
    "9279-1": ("respiratory_rate_rpm", "/min", "Respiratory rate"),
    "8310-5": ("temperature_c", "Cel", "Body temperature"),
    "59408-5": ("spo2_percent", "%", "Oxygen saturation in Arterial blood by Pulse oximetry"),
    "2708-6": ("spo2_percent", "%", "Oxygen saturation in Arterial blood"),
}
VITAL_OUT: dict[str, str] = {"systolic_mmhg": SYSTOLIC, "diastolic_mmhg": DIASTOLIC, "heart_rate_bpm": "8867-4",
                             "respiratory_rate_rpm": "9279-1", "temperature_c": "8310-5", "spo2_percent": "59408-5"}
BODY_WEIGHT = "29463-7"
AGE = "30525-0"
EXT_LAB_UNIT = f"{ALTA}/StructureDefinition/lab-unit"

# --- follow-up, instructions, document -----------------------------------------------------------
REFERRAL = ("3457005", "Patient referral")
DISCHARGE_SUMMARY = "18842-5"
EU_HOSPITAL_DISCHARGE_REPORT = "34105-7"
COMPOSITION_TYPES = {DISCHARGE_SUMMARY: "Discharge summary", EU_HOSPITAL_DISCHARGE_REPORT: "Hospital Discharge summary"}
PROVENANCE_PARTICIPANT = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
V3_OBSERVATION_VALUE = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
AUTHORSHIP = f"{ALTA}/CodeSystem/authorship"
