"""Hypothesis strategies that generate valid ``HospitalStay`` records for property tests.

Records are built as JSON-like dicts (the shape an EHR sends) and validated with the same pinned
"today" the unit tests use, so every generated record passes the model's own cross-field rules.
Clinical content is drawn from small hand-written Spanish lists: realistic enough to exercise the
writer's wording (accents, "e" before /i/, decimal doses, count units) without random gibberish.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from clinical.identifiers import rut_check_digit
from clinical.record import (
    AdmissionOrigin,
    DischargeCondition,
    DischargeDestination,
    HospitalStay,
    Route,
)

TODAY = dt.date(2026, 11, 21)
CONTEXT = {"today": TODAY}
ADMITTED_FROM = dt.datetime(2020, 1, 1)
ADMITTED_UNTIL = dt.datetime(2026, 11, 1, 23, 59)

FIRST_NAMES = ["María", "José", "Ana", "Juan", "Camila", "Luis", "Isidora", "Héctor", "Sofía", "Álex"]
SURNAMES = ["González", "Muñoz", "Rojas", "Díaz", "Pérez", "Soto", "Contreras", "Silva", "Ibáñez", "Núñez"]
SERVICES = [
    "Medicina Interna",
    "Cirugía",
    "Unidad de Paciente Crítico",
    "Traumatología",
    "Pediatría",
    "Ginecología",
]

DIAGNOSES = [
    ("J18.9", "Neumonía adquirida en la comunidad"),
    ("E11.9", "Diabetes mellitus tipo 2"),
    ("I10", "Hipertensión arterial esencial"),
    ("N39.0", "Infección del tracto urinario"),
    ("I50.9", "Insuficiencia cardíaca"),
    ("J44.1", "Enfermedad pulmonar obstructiva crónica exacerbada"),
    ("K35.8", "Apendicitis aguda"),
    ("K80.2", "Colelitiasis"),
    ("I63.9", "Infarto cerebral"),
    ("I21.9", "Infarto agudo al miocardio"),
    ("N17.9", "Insuficiencia renal aguda"),
    ("E87.1", "Hiponatremia"),
    ("D64.9", "Anemia"),
    ("I48.9", "Fibrilación auricular"),
    ("A09.9", "Gastroenteritis aguda"),
    ("K85.9", "Pancreatitis aguda"),
    ("S72.0", "Fractura de cuello de fémur"),
    ("L03.1", "Celulitis de extremidad inferior"),
    ("E86", "Deshidratación"),
    ("R55", "Síncope"),
    ("J45.9", "Asma bronquial"),
    ("K92.2", "Hemorragia digestiva"),
    ("I26.9", "Tromboembolismo pulmonar"),
    ("E10.1", "Cetoacidosis diabética"),
    ("F10.3", "Síndrome de abstinencia alcohólica"),
    ("O80", "Parto único espontáneo"),
    ("K56.6", "Íleo obstructivo"),
    ("B34.9", "Infección viral"),
    ("I80.2", "Trombosis venosa profunda"),
    ("K74.6", "Cirrosis hepática"),
]

PROCEDURES = [
    "Radiografía de tórax",
    "Hemocultivos",
    "Tomografía computada de cerebro",
    "Ecocardiograma",
    "Apendicectomía laparoscópica",
    "Colecistectomía laparoscópica",
    "Endoscopía digestiva alta",
    "Instalación de catéter venoso central",
    "Ecografía abdominal",
    "Transfusión de glóbulos rojos",
    "Punción lumbar",
    "Intubación orotraqueal",
]

# (name, unit, doses, routes): doses a physician would actually prescribe in that unit.
MEDICATIONS = [
    ("Paracetamol", "mg", ["500", "1000"], [Route.ORAL, Route.INTRAVENOUS]),
    ("Paracetamol", "g", ["1"], [Route.ORAL, Route.INTRAVENOUS]),
    ("Ibuprofeno", "mg", ["400", "600"], [Route.ORAL]),
    ("Amoxicilina", "mg", ["500", "875"], [Route.ORAL]),
    ("Amoxicilina/ácido clavulánico", "mg", ["875", "875/125", "500/125"], [Route.ORAL]),
    ("Levofloxacino", "mg", ["500", "750"], [Route.ORAL, Route.INTRAVENOUS]),
    ("Ceftriaxona", "g", ["1", "2"], [Route.INTRAVENOUS, Route.INTRAMUSCULAR]),
    ("Cefazolina", "g", ["1", "2"], [Route.INTRAVENOUS]),
    ("Metformina", "mg", ["500", "850"], [Route.ORAL]),
    ("Losartán", "mg", ["25", "50"], [Route.ORAL]),
    ("Enalapril", "mg", ["2.5", "5", "10"], [Route.ORAL]),
    ("Amlodipino", "mg", ["5", "10"], [Route.ORAL]),
    ("Atorvastatina", "mg", ["20", "40", "80"], [Route.ORAL]),
    ("Ácido acetilsalicílico", "mg", ["100"], [Route.ORAL]),
    ("Clopidogrel", "mg", ["75"], [Route.ORAL]),
    ("Furosemida", "mg", ["20", "40"], [Route.ORAL, Route.INTRAVENOUS]),
    ("Espironolactona", "mg", ["25"], [Route.ORAL]),
    ("Bisoprolol", "mg", ["1.25", "2.5", "5"], [Route.ORAL]),
    ("Levotiroxina", "mcg", ["25", "50", "100"], [Route.ORAL]),
    ("Omeprazol", "mg", ["20", "40"], [Route.ORAL, Route.INTRAVENOUS]),
    ("Insulina NPH", "UI", ["10", "12", "20"], [Route.SUBCUTANEOUS]),
    ("Insulina glargina", "UI", ["14", "22"], [Route.SUBCUTANEOUS]),
    ("Enoxaparina", "mg", ["40", "60"], [Route.SUBCUTANEOUS]),
    ("Clonazepam", "mg", ["0.5", "2"], [Route.ORAL, Route.SUBLINGUAL]),
    ("Salbutamol", "puff", ["2"], [Route.INHALED]),
    ("Bromuro de ipratropio", "gotas", ["1", "20"], [Route.NEBULIZED]),
    ("Tramadol", "gotas", ["10", "20"], [Route.ORAL]),
    ("Lactulosa", "mL", ["15", "30"], [Route.ORAL]),
    ("Prednisona", "mg", ["20", "40"], [Route.ORAL]),
    ("Vitamina D", "UI", ["800", "1000"], [Route.ORAL]),
    ("Haloperidol", "mg", ["0.5", "2.5"], [Route.ORAL, Route.INTRAMUSCULAR]),
    ("Tobramicina", "gotas", ["1", "2"], [Route.OPHTHALMIC]),
]
FREQUENCIES = [
    "cada 8 horas",
    "cada 12 horas",
    "cada 24 horas",
    "una vez al día",
    "en la noche",
    "cada 6 horas",
]
DURATIONS = [None, "5 días", "7 días", "1 mes", "hasta control", "por 10 días"]

LABS = [  # (name, unit, values)
    ("Hemoglobina", "g/dL", ["8,9", "12,5", "14,1"]),
    ("Leucocitos", "/mm³", ["4.500", "15.800", "22.300"]),
    ("Proteína C reactiva", "mg/L", ["3", "86", "245"]),
    ("Creatinina", "mg/dL", ["0,7", "1,4", "3,2"]),
    ("Sodio", "mEq/L", ["128", "139"]),
    ("Potasio", "mEq/L", ["3,1", "4,2"]),
    ("Glicemia", "mg/dL", ["98", "320"]),
    ("Troponina", "ng/L", ["<5", "540"]),
    ("Saturación venosa", "%", ["68"]),
    ("Hemocultivos", None, ["negativos", "positivos para Streptococcus pneumoniae"]),
]

ALLERGENS = [
    "Penicilina",
    "Ibuprofeno",
    "AINE",
    "Sulfas",
    "Látex",
    "Yodo",
    "Mariscos",
    "Ácido acetilsalicílico",
]
REACTIONS = [None, "exantema", "urticaria", "angioedema", "broncoespasmo"]
MEDICAL_HISTORY = [
    "Hipertensión arterial",
    "Diabetes mellitus tipo 2",
    "Insuficiencia cardíaca",
    "EPOC",
    "Hipotiroidismo",
    "Enfermedad renal crónica etapa 3",
    "Fibrilación auricular",
    "Asma",
]
SURGICAL_HISTORY = ["Colecistectomía (2015)", "Apendicectomía", "Cesárea (2010)", "Artroplastia de cadera"]
REASONS = [
    "Fiebre, tos productiva y disnea de 3 días de evolución.",
    "Dolor abdominal en fosa ilíaca derecha de 24 horas, con vómitos.",
    "Disnea progresiva y edema de extremidades inferiores.",
    "Caída a nivel con dolor e impotencia funcional de cadera izquierda.",
    "Hemiparesia derecha y disartria de inicio súbito.",
]
EVOLUTIONS = [
    "Evoluciona favorablemente con tratamiento antibiótico, afebril desde el segundo día.",
    "Evolución tórpida, requiere ajuste de terapia diurética.\nBalance hídrico negativo al tercer día.",
    "Cursa postoperatorio sin incidentes. Tolera régimen oral.",
]
INSTRUCTIONS = [
    "Reposo relativo",
    "Régimen liviano",
    "Control de glicemia capilar en domicilio",
    "Consultar en urgencia si presenta fiebre o dificultad respiratoria",
    "Curación de herida operatoria cada 48 horas",
]
SPECIALTIES = ["Medicina Interna", "Cardiología", "Cirugía", "Neurología", "Atención primaria"]
PLACES = [None, "CESFAM Los Aromos", "Policlínico de Especialidades, Hospital Base", "Consultorio adosado"]


def _rut() -> st.SearchStrategy[str]:
    """Valid Chilean RUTs, with or without thousands dots, check digit computed (K included)."""

    def fmt(body: int, dotted: bool) -> str:
        digits = str(body)
        text = f"{body:,}".replace(",", ".") if dotted else digits
        return f"{text}-{rut_check_digit(digits)}"

    return st.builds(fmt, st.integers(1_000_000, 25_999_999), st.booleans())


def _day_in(start: dt.date, days: int) -> st.SearchStrategy[dt.date]:
    return st.integers(0, days).map(lambda offset: start + dt.timedelta(days=offset))


# Per-kg prescriptions, drawn only for patients with a recorded weight (children, mostly).
PER_KG_MEDICATIONS = [
    ("Paracetamol", "mg/kg", ["10", "15"], [Route.ORAL, Route.INTRAVENOUS]),
    ("Ampicilina", "mg/kg", ["50"], [Route.INTRAVENOUS]),
    ("Amoxicilina", "mg/kg/día", ["50", "80"], [Route.ORAL]),
]


def _medication(draw: Any, weighed: bool = False) -> dict[str, Any]:
    name, unit, doses, routes = draw(st.sampled_from(MEDICATIONS + (PER_KG_MEDICATIONS if weighed else [])))
    med = {
        "name": name,
        "dose": draw(st.sampled_from(doses)),  # strings, so Decimal("2.5") stays exact
        "unit": unit,
        "route": draw(st.sampled_from(routes)).value,
        "frequency": draw(st.sampled_from(FREQUENCIES)),
    }
    duration = draw(st.sampled_from(DURATIONS))
    if duration is not None:
        med["duration"] = duration
    return med


def _vitals(draw: Any, admitted: dt.date, days: int) -> dict[str, Any]:
    day = draw(_day_in(admitted, days))
    time = draw(st.times())
    vs: dict[str, Any] = {"taken_at": dt.datetime.combine(day, time).isoformat()}
    if draw(st.booleans()):
        systolic = draw(st.integers(70, 200))
        vs["systolic_mmhg"] = systolic
        vs["diastolic_mmhg"] = draw(st.integers(40, systolic - 10))
    if draw(st.booleans()):
        vs["heart_rate_bpm"] = draw(st.integers(40, 160))
    if draw(st.booleans()):
        vs["respiratory_rate_rpm"] = draw(st.integers(10, 40))
    if draw(st.booleans()):
        vs["temperature_c"] = str(Decimal(draw(st.integers(350, 410))) / 10)
    if draw(st.booleans()) or len(vs) == 1:  # at least one measurement is required
        vs["spo2_percent"] = draw(st.integers(80, 100))
    return vs


@st.composite
def hospital_stay_dicts(draw: Any) -> dict[str, Any]:
    """Valid hospital-stay records as the JSON-like dicts an EHR would send."""
    admitted_at = draw(st.datetimes(min_value=ADMITTED_FROM, max_value=ADMITTED_UNTIL))
    admitted = admitted_at.date()
    days = draw(st.integers(0, min(60, (TODAY - admitted).days)))
    discharged = admitted + dt.timedelta(days=days)
    condition = draw(st.sampled_from(list(DischargeCondition)))
    deceased = condition is DischargeCondition.DECEASED
    living_destinations = [d for d in DischargeDestination if d is not DischargeDestination.MORGUE]
    destination = DischargeDestination.MORGUE if deceased else draw(st.sampled_from(living_destinations))

    age = draw(st.integers(0, 100))
    first, surname, second = (draw(st.sampled_from(names)) for names in (FIRST_NAMES, SURNAMES, SURNAMES))
    patient: dict[str, Any] = {
        "name": f"{first} {surname} {second}",
        "sex": draw(st.sampled_from(["F", "M", "X"])),
        "identifiers": [{"type": "RUT", "value": draw(_rut())}],
    }
    age_style = draw(st.sampled_from(["birth_date", "age_years", "both"]))
    if age_style in ("birth_date", "both"):
        # A birth date `age` years and up to 364 days before admission (29 February handled by
        # stepping back one day at a time from a safe date).
        anchor = admitted.replace(day=28) if (admitted.month, admitted.day) == (2, 29) else admitted
        born = anchor.replace(year=anchor.year - age) - dt.timedelta(days=draw(st.integers(0, 364)))
        patient["birth_date"] = born.isoformat()
        age = admitted.year - born.year - ((admitted.month, admitted.day) < (born.month, born.day))
    if age_style in ("age_years", "both"):
        patient["age_years"] = age
    if draw(st.booleans()):
        patient["identifiers"].append({"type": "NHC", "value": str(draw(st.integers(1000, 999999)))})
    weighed = draw(st.booleans())
    if weighed:
        patient["weight_kg"] = str(Decimal(draw(st.integers(25, 1200))) / 10)  # 2.5-120 kg

    chosen = draw(st.lists(st.sampled_from(DIAGNOSES), min_size=1, max_size=6, unique_by=lambda d: d[0]))
    principal = draw(st.integers(0, len(chosen) - 1))
    diagnoses = [
        {"code": code, "description": text, "kind": "principal" if i == principal else "secundario"}
        for i, (code, text) in enumerate(chosen)
    ]

    procedures = []
    for _ in range(draw(st.integers(0, 4))):
        proc = {
            "performed_on": draw(_day_in(admitted, days)).isoformat(),
            "description": draw(st.sampled_from(PROCEDURES)),
        }
        if draw(st.booleans()):
            proc["code"] = str(draw(st.integers(100000, 9999999)))
        procedures.append(proc)

    labs = []
    for _ in range(draw(st.integers(0, 8))):
        name, unit, values = draw(st.sampled_from(LABS))
        lab = {
            "name": name,
            "value": draw(st.sampled_from(values)),
            "taken_on": draw(_day_in(admitted, days)).isoformat(),
            "abnormal": draw(st.booleans()),
        }
        if unit is not None:
            lab["unit"] = unit
        labs.append(lab)

    follow_ups = []
    if not deceased:
        for _ in range(draw(st.integers(0, 3))):
            fu: dict[str, Any] = {"specialty": draw(st.sampled_from(SPECIALTIES))}
            if draw(st.booleans()):
                fu["date"] = (discharged + dt.timedelta(days=draw(st.integers(0, 90)))).isoformat()
            place = draw(st.sampled_from(PLACES))
            if place is not None:
                fu["place"] = place
            if draw(st.booleans()):
                fu["notes"] = "Traer exámenes de control"
            follow_ups.append(fu)

    allergy_style = draw(st.sampled_from(["none", "empty", "some"]))
    record: dict[str, Any] = {
        "patient": patient,
        "admission": {
            "admitted_at": admitted_at.isoformat(),
            "service": draw(st.sampled_from(SERVICES)),
            "reason": draw(st.sampled_from(REASONS)),
            "origin": draw(st.sampled_from(list(AdmissionOrigin))).value,
        },
        "discharge": {
            "discharged_on": discharged.isoformat(),
            "condition": condition.value,
            "destination": destination.value,
        },
        "medical_history": draw(st.lists(st.sampled_from(MEDICAL_HISTORY), max_size=4, unique=True)),
        "surgical_history": draw(st.lists(st.sampled_from(SURGICAL_HISTORY), max_size=2, unique=True)),
        "diagnoses": diagnoses,
        "procedures": procedures,
        "inpatient_medications": [_medication(draw, weighed) for _ in range(draw(st.integers(0, 4)))],
        "discharge_medications": []
        if deceased
        else [_medication(draw, weighed) for _ in range(draw(st.integers(0, 5)))],
        "labs": labs,
        "vital_signs": [_vitals(draw, admitted, days) for _ in range(draw(st.integers(0, 4)))],
        "discharge_instructions": draw(st.lists(st.sampled_from(INSTRUCTIONS), max_size=3, unique=True)),
        "follow_ups": follow_ups,
    }
    if allergy_style == "empty":
        record["allergies"] = []
    elif allergy_style == "some":
        allergens = draw(st.lists(st.sampled_from(ALLERGENS), min_size=1, max_size=3, unique=True))
        record["allergies"] = [
            {"substance": a, **({"reaction": r} if (r := draw(st.sampled_from(REACTIONS))) else {})}
            for a in allergens
        ]
    if draw(st.booleans()):
        record["evolution"] = draw(st.sampled_from(EVOLUTIONS))
    return record


def hospital_stays() -> st.SearchStrategy[HospitalStay]:
    """Valid ``HospitalStay`` records, validated against the pinned test date (2026-11-21)."""
    return hospital_stay_dicts().map(lambda data: HospitalStay.model_validate(data, context=CONTEXT))
