"""Latin-American clinical prose: names by context and gazetteer, one type per person, no generic words.

The translation service found MEDDOCAN-trained de-identification leaking Latin-American names
("Paciente Juan Pérez González, de 45 años"), typing them wrongly or leaving a surname visible, and
masking "la familia". These tests run the shipped pipeline (rules + CRF) on such text.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clinical.deid import Analyzer, check_placeholders, default_analyzer, deidentify, reidentify
from clinical.deid.__main__ import main
from clinical.deid.corpus.brat import format_ann, read_corpus, write_corpus
from clinical.deid.names.consistency import harmonise_person_types, propagate_name_variants
from clinical.deid.names.extension import complete_names, drop_model_spans_around_names
from clinical.deid.names.gazetteer import load_gazetteer
from clinical.deid.names.gazetteer_build import (
    GazetteerConfig,
    build_gazetteer,
    build_places,
    write_gazetteer,
)
from clinical.deid.places.organisations import fix_organisations
from clinical.deid.recognizers import (
    GazetteerNameRecognizer,
    HealthUnitRecognizer,
    KinshipRecognizer,
    ManufacturerRecognizer,
    PersonNameRecognizer,
    RutRecognizer,
)
from clinical.deid.span import PhiSpan

PATIENT, STAFF, RELATIVE = "NOMBRE_SUJETO_ASISTENCIA", "NOMBRE_PERSONAL_SANITARIO", "FAMILIARES_SUJETO_ASISTENCIA"


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return default_analyzer()


def spans_of(analyzer: Analyzer, text: str) -> dict[str, str]:
    return {text[s.start:s.end]: s.type for s in analyzer.analyze(text)}


def names_of(recognizer, text: str) -> list[tuple[str, str]]:
    return [(text[s.start:s.end], s.type) for s in recognizer.analyze(text)]


# -- the four cases the translation service reported -------------------------------------------

def test_patient_after_bare_paciente_is_found_whole(analyzer: Analyzer) -> None:
    text = "Paciente Juan Pérez González, de 45 años, ingresa por dolor torácico."
    assert spans_of(analyzer, text)["Juan Pérez González"] == PATIENT
    result = deidentify(text, analyzer=analyzer)
    # An age under 90 is not an identifier and stays readable for the translator (clinical.deid.readable).
    assert result.text == "Paciente __PHI_NOMBRE_1__, de 45 años, ingresa por dolor torácico."


def test_labelled_patient_is_a_patient_and_no_surname_is_left(analyzer: Analyzer) -> None:
    text = "Paciente: Rosa Elena Martínez Fuentes\nEdad: 67 años\n"
    assert spans_of(analyzer, text)["Rosa Elena Martínez Fuentes"] == PATIENT
    result = deidentify(text, analyzer=analyzer)
    assert result.text.startswith("Paciente: __PHI_NOMBRE_1__\n")
    assert "Fuentes" not in result.text and "PROFESIONAL" not in result.text


def test_the_same_person_gets_one_type_and_one_placeholder(analyzer: Analyzer) -> None:
    text = ("Paciente: Rosa Elena Martínez Fuentes\n"
            "Su hija acompaña a Rosa Elena Martínez Fuentes durante la hospitalización. La Sra. Martínez "
            "Fuentes evoluciona bien y Rosa Elena Martínez Fuentes se va de alta.\n")
    result = deidentify(text, analyzer=analyzer)
    full = next(p for p, original in result.mapping.originals.items() if original == "Rosa Elena Martínez Fuentes")
    assert full == "__PHI_NOMBRE_1__" and result.text.count(full) == 3
    # The surname pair alone is another string (its own placeholder) but the same person's type.
    assert {result.mapping.types[p] for p in result.mapping.originals} <= {PATIENT}
    assert "Martínez" not in result.text and "Fuentes" not in result.text
    assert reidentify(result.text, result.mapping) == text


def test_a_trigger_type_wins_over_the_models_guess_across_the_document() -> None:
    text = "Paciente: Rosa Soto Aravena. Ayer Rosa Soto Aravena refirió dolor."
    second = text.rindex("Rosa")
    merged = [PhiSpan(10, 27, PATIENT, "name-context"), PhiSpan(second, second + 17, RELATIVE, "crf")]
    evidence = [*merged, PhiSpan(10, 27, RELATIVE, "crf"), PhiSpan(second, second + 17, PATIENT, "name-gazetteer")]
    harmonised = harmonise_person_types(text, merged, evidence, load_gazetteer())
    assert [s.type for s in harmonised] == [PATIENT, PATIENT]


def test_people_that_triggers_tell_apart_are_not_merged() -> None:
    # A patient and his mother share a surname pair; each keeps the type its own trigger gives.
    text = "Paciente: Pedro Soto Aravena. Madre: Ana Soto Aravena. Soto Aravena refiere dolor."
    tail = text.rindex("Soto")
    merged = [PhiSpan(10, 27, PATIENT, "name-context"), PhiSpan(36, 52, RELATIVE, "name-context"),
              PhiSpan(tail, tail + 12, RELATIVE, "crf")]
    harmonised = harmonise_person_types(text, merged, merged, load_gazetteer())
    assert [s.type for s in harmonised][:2] == [PATIENT, RELATIVE]


def test_family_and_patient_are_generic_words(analyzer: Analyzer) -> None:
    text = "Se explica a la familia el pronóstico. El paciente y su madre están de acuerdo. Familiar refiere mejoría."
    assert analyzer.analyze(text) == []
    assert deidentify(text, analyzer=analyzer).text == text


def test_meddocan_profile_still_annotates_relatives_by_kinship() -> None:
    # Scoring on MEDDOCAN and BRAT output follow its guidelines, where "dos hermanos" is PHI.
    meddocan = Analyzer.with_model(kinship_terms=True)
    text = "Tiene dos hermanos sanos y un tío materno con nefropatía."
    assert spans_of(meddocan, text) == {"dos hermanos": RELATIVE, "tío materno": RELATIVE}
    assert spans_of(default_analyzer(), text) == {}


# -- more Latin-American forms ------------------------------------------------------------------

@pytest.mark.parametrize("rut", ["12.345.678-5", "12345678-5", "7.654.321-6", "7654321-6", "10.000.013-K", "10000013-k"])
@pytest.mark.parametrize("label", ["RUT: ", "RUN ", "R.U.T. ", "rut ", "Cédula de identidad: "])
def test_chilean_rut_forms_are_masked(analyzer: Analyzer, label: str, rut: str) -> None:
    text = f"Nombre: Camila Rojas Soto\n{label}{rut}\nPrevisión: FONASA B\n"
    assert spans_of(analyzer, text)[rut] == "ID_SUJETO_ASISTENCIA"
    result = deidentify(text, analyzer=analyzer)
    assert rut not in result.text and "Camila" not in result.text and "FONASA B" in result.text


def test_a_rut_with_a_wrong_check_digit_is_not_taken_as_one() -> None:
    assert RutRecognizer().analyze("RUT: 12.345.678-4") == []


@pytest.mark.parametrize("header", ["C. Juan Carlos Hernández López", "C. JUAN CARLOS HERNÁNDEZ LÓPEZ"])
def test_mexican_citizen_header(analyzer: Analyzer, header: str) -> None:
    text = f"{header}\nEdad: 58 años\nDiagnóstico: colecistitis aguda\n"
    assert spans_of(analyzer, text)[header[3:]] == PATIENT
    assert deidentify(text, analyzer=analyzer).text.startswith("C. __PHI_NOMBRE_1__\n")


def test_mexican_c_before_a_number_is_a_street() -> None:
    assert names_of(PersonNameRecognizer(), "Domicilio:\nC. Reforma 123, Col. Centro") == []


def test_uppercase_surname_comma_given_name_form(analyzer: Analyzer) -> None:
    text = ("Nombre: PÉREZ GONZÁLEZ, JUAN\nNSS: 12345678903\n"
            "Juan Pérez González, de 62 años, acude por disnea. El Sr. Pérez González niega fiebre.\n")
    found = spans_of(analyzer, text)
    assert found["PÉREZ GONZÁLEZ, JUAN"] == PATIENT
    assert found["Juan Pérez González"] == PATIENT and found["Pérez González"] == PATIENT
    result = deidentify(text, analyzer=analyzer)
    assert "Pérez" not in result.text and "PÉREZ" not in result.text and "JUAN" not in result.text


def test_triggers_type_patients_staff_and_relatives() -> None:
    text = ("Médico tratante: Dra. Ana María de la Fuente Ruiz\nEnfermera a cargo Rosa Soto. E.U. Camila Rojas.\n"
            "Madre de nombre Carmen Soto acompaña. Su esposa, la Sra. María López Vera, refiere fiebre.\n"
            "Hija: Javiera Muñoz Soto\nNombre del paciente: Luis Alberto Contreras Tapia\n")
    found = dict(names_of(PersonNameRecognizer(), text))
    assert found["Ana María de la Fuente Ruiz"] == STAFF
    assert found["Rosa Soto"] == STAFF and found["Camila Rojas"] == STAFF
    assert found["Carmen Soto"] == RELATIVE and found["María López Vera"] == RELATIVE
    assert found["Javiera Muñoz Soto"] == RELATIVE
    assert found["Luis Alberto Contreras Tapia"] == PATIENT


def test_names_inside_hospitals_and_streets_are_left_to_their_recognisers() -> None:
    text = ("Trasladado al Hospital Dr. Sótero del Río. Vive en Calle Dr. Juan Noé 1234. "
            "Hospital Juan Ramón Jiménez. Calle Miguel Benítez 90. Parroquia San Juan de Dios.")
    assert names_of(PersonNameRecognizer(), text) == []
    assert names_of(GazetteerNameRecognizer(), text) == []


def test_full_names_without_a_trigger() -> None:
    text = "Ayer Juan Pérez González refirió dolor; María José Soto Aravena lo acompañó. Llamó a MARÍA JOSÉ SOTO."
    assert names_of(GazetteerNameRecognizer(), text) == [
        ("Juan Pérez González", PATIENT), ("María José Soto Aravena", PATIENT), ("MARÍA JOSÉ SOTO", PATIENT)]


def test_no_guess_from_two_given_names_or_ordinary_capitals() -> None:
    text = ("María José llegó. Rosa de los vientos. Dolores Articulares. Santa Rosa. Virgen de Guadalupe. "
            "ANTECEDENTES PERSONALES. Juan Pablo II. Campos Pulmonares Limpios.")
    assert names_of(GazetteerNameRecognizer(), text) == []


def test_a_surname_next_to_a_found_name_is_added() -> None:
    text = "Paciente: Rosa Elena Martínez Fuentes\nEdad: 67"
    model_span = PhiSpan(10, 29, STAFF, "crf")  # "Rosa Elena Martínez": one word short
    (completed, _) = complete_names(text, [model_span, PhiSpan(45, 47, "EDAD_SUJETO_ASISTENCIA")], load_gazetteer())
    assert text[completed.start:completed.end] == "Rosa Elena Martínez Fuentes"


def test_other_written_forms_of_a_name_are_masked_too() -> None:
    text = "Nombre: PÉREZ GONZÁLEZ, JUAN\nJuan Pérez González y el Sr. Juan Pérez; PEREZ GONZALEZ no."
    header = PhiSpan(8, 28, PATIENT, "name-context")
    found = propagate_name_variants(text, [header], load_gazetteer())
    assert [text[s.start:s.end] for s in found] == ["PÉREZ GONZÁLEZ, JUAN", "Juan Pérez González", "Juan Pérez"]
    assert {s.type for s in found} == {PATIENT}
    # The model's mistaken guess over a whole mention gives way to the person.
    mistaken = PhiSpan(text.index("Juan"), text.index(" y el"), "INSTITUCION", "crf")
    found = propagate_name_variants(text, [header, mistaken], load_gazetteer())
    assert [(text[s.start:s.end], s.type) for s in found][1] == ("Juan Pérez González", PATIENT)


def test_a_title_prefix_does_not_eat_the_first_letter_of_a_name() -> None:
    # "C" (ciudadano) must not match the C of "Cuauhtémoc".
    text = "Paciente: Cuauhtémoc Curiñir Curiñir\nEdad: 67 años"
    assert names_of(PersonNameRecognizer(), text) == [("Cuauhtémoc Curiñir Curiñir", PATIENT)]


def test_a_model_span_around_a_name_gives_way_to_the_name() -> None:
    text = "Ximena Soto Fuentes evoluciona bien. Vive en Los Aromos Ximena Soto 12."
    street, name = text.index("Los"), text.rindex("Ximena")
    spans = [PhiSpan(0, 35, "CALLE", "crf"), PhiSpan(0, 19, PATIENT, "name-gazetteer"),
             PhiSpan(street, len(text) - 1, "CALLE", "crf"), PhiSpan(name, name + 11, PATIENT, "name-gazetteer")]
    kept = drop_model_spans_around_names(text, spans, load_gazetteer())
    assert [(text[s.start:s.end], s.type) for s in kept] == [
        ("Ximena Soto Fuentes", PATIENT), ("Los Aromos Ximena Soto 12", "CALLE"), ("Ximena Soto", PATIENT)]


TEMPLATES = [
    ("Paciente {name}, de 45 años, ingresa por dolor torácico.", PATIENT),
    ("Paciente: {name}\nEdad: 67 años\nDiagnóstico: neumonía.", PATIENT),
    ("Nombre: {upper_comma}\nRUT: 12.345.678-5\n{name} evoluciona bien.", PATIENT),
    ("C. {upper_comma}\nEdad: 58 años", PATIENT),
    ("Se explica a la familia. La Sra. {surnames} refiere mejoría. {name} se va de alta.", PATIENT),
    ("Médico tratante: Dr. {name}\nSe indica reposo.", STAFF),
    ("Evaluada por la Dra. {name}, se indica Ceftriaxona.", STAFF),
    ("Su hija, {name}, acompaña durante la hospitalización.", RELATIVE),
    ("Madre de nombre {name} firma el consentimiento.", RELATIVE),
    ("Enfermera a cargo: {name}.", STAFF),
]
# Gazetteer names, and surnames it does not hold (Mapuche, Purépecha, hyphenated).
PEOPLE = [("Rosa Elena", "Martínez", "Fuentes"), ("Cuauhtémoc", "Xolalpa", "Huenchumán"),
          ("Itzel", "Llancapán", "Tzintzun"), ("Luis Alberto", "Curiñir", "Ayala-Tapia")]


@pytest.mark.parametrize(("template", "phi_type"), TEMPLATES)
def test_templated_latam_notes_leak_no_name_and_type_it_right(analyzer: Analyzer, template: str, phi_type: str) -> None:
    for given_names, first, second in PEOPLE:
        forms = {"name": f"{given_names} {first} {second}", "surnames": f"{first} {second}",
                 "upper_comma": f"{first} {second}, {given_names}".upper()}
        text = template.format(**forms)
        spans = analyzer.analyze(text)
        result = deidentify(text, analyzer=analyzer)
        for word in (*given_names.split(), first, second):
            assert word not in result.text and word.upper() not in result.text, (text, result.text)
        mentions = [s for s in spans if any(text[s.start:s.end] in (f, f.upper()) or f in text[s.start:s.end]
                                            for f in forms.values())]
        assert mentions and {s.type for s in mentions} == {phi_type}, (text, spans)


# -- no false positives on PHI-free clinical text -----------------------------------------------

PHI_FREE = [
    "Paciente de 70 años con HTA.",
    "Se indica Paracetamol 1 g cada 8 horas.",
    "Servicio de Medicina Interna.",
    "Paciente masculino con antecedentes de DM2 e HTA, en tratamiento con Metformina.",
    "Paciente femenina, consciente y orientada.",
    "Paciente Diabético tipo 2 en control.",
    "El paciente refiere dolor abdominal de tres días de evolución.",
    "Se explica a la familia el pronóstico.",
    "Se informa a la familia y al paciente.",
    "Familiar refiere que el paciente no ha comido.",
    "Madre refiere fiebre de 39 °C.",
    "Se da de alta con indicaciones a su madre.",
    "DIAGNÓSTICO DE EGRESO",
    "ANTECEDENTES PERSONALES",
    "EXAMEN FÍSICO",
    "Ingresa al Servicio de Urgencias por disnea.",
    "Interconsulta a Cardiología.",
    "Evaluado por Neurología, se descarta EVC.",
    "Control en Policlínico de Cirugía en 10 días.",
    "Se inicia Ceftriaxona 2 g IV cada 24 horas.",
    "Se administra Metamizol 1 g IV por dolor.",
    "Paciente Con Dolor Torácico Atípico.",
    "Escala de Glasgow 15 puntos.",
    "Signo de Murphy positivo.",
    "Enfermedad de Crohn en remisión.",
    "Síndrome de Guillain-Barré descartado.",
    "Nombre del medicamento: Omeprazol 20 mg.",
    "Médico tratante indica reposo.",
    "Enfermera a cargo administra analgesia.",
    "Se solicita evaluación por Medicina Física y Rehabilitación.",
    "Hemoglobina 11,2 g/dL, Leucocitos 12.000, PCR 45 mg/L.",
    "Radiografía de Tórax sin hallazgos.",
    "Unidad de Cuidados Intensivos.",
    "Paciente Refiere Cefalea Intensa.",
    "Plan: Continuar Tratamiento Médico.",
    "Indicaciones: Reposo Relativo, Dieta Blanda.",
    "Se contacta a familiar responsable.",
    "Hijo refiere que el paciente presenta caídas frecuentes.",
    "Esposa acompaña al paciente durante la hospitalización.",
    "Sra. de la limpieza refiere haber visto la caída.",
    "Paciente Post Operado de Colecistectomía.",
    "Paciente Portador de Marcapasos.",
    "Dolores articulares difusos.",
    "Campos pulmonares limpios.",
    "Presión Arterial 130/80 mmHg.",
    "Insuficiencia Cardíaca Congestiva descompensada.",
    "Tomografía Axial Computada de Cerebro.",
    "Se usan células madre en el ensayo.",
]


def test_no_phi_found_in_phi_free_sentences(analyzer: Analyzer) -> None:
    # Ages under 90 are MEDDOCAN's EDAD_SUJETO_ASISTENCIA but no identifier: translation masks nothing here.
    for sentence in PHI_FREE:
        assert spans_of(analyzer, sentence) == {}, sentence
    document = "\n".join(PHI_FREE)
    assert analyzer.analyze(document) == []
    guideline_types = {s.type for s in Analyzer.with_model(kinship_terms=True).analyze(document)}
    assert "EDAD_SUJETO_ASISTENCIA" in guideline_types
    assert guideline_types <= {"EDAD_SUJETO_ASISTENCIA", "SEXO_SUJETO_ASISTENCIA", "FAMILIARES_SUJETO_ASISTENCIA"}


# -- organisations and other recognisers --------------------------------------------------------

def test_organisation_edges_and_types() -> None:
    text = "Hospital San Roque Córdoba. Hospital de León. Centro de Salud Las Calesas. Lisozima® 1 comp."
    spans = [PhiSpan(0, 26, "HOSPITAL"), PhiSpan(28, 44, "HOSPITAL"), PhiSpan(46, 73, "INSTITUCION"),
             PhiSpan(75, 83, "INSTITUCION")]
    fixed = [(text[s.start:s.end], s.type) for s in fix_organisations(text, spans)]
    assert fixed == [("Hospital San Roque", "HOSPITAL"), ("Córdoba", "TERRITORIO"), ("Hospital de León", "HOSPITAL"),
                     ("Centro de Salud Las Calesas", "CENTRO_SALUD")]
    text = "HOSPITAL REGIONAL DE TEMUCO\n"
    assert [(text[s.start:s.end]) for s in fix_organisations(text, [PhiSpan(0, 17, "HOSPITAL")])] == [text.strip()]


def test_health_units_makers_and_kinship_terms() -> None:
    text = "Derivada desde UMF No. 20 al HGZ 1; control en CESFAM Pedro de Valdivia. Consultorio de Cirugía."
    assert names_of(HealthUnitRecognizer(), text) == [
        ("UMF No. 20", "CENTRO_SALUD"), ("HGZ 1", "HOSPITAL"), ("CESFAM Pedro de Valdivia", "CENTRO_SALUD")]
    text = "timolol (Combigan®, Allergan) y una prótesis (Rigiflex®; Boston Scientific, EE. UU.)"
    assert names_of(ManufacturerRecognizer(), text) == [("Allergan", "INSTITUCION"), ("Boston Scientific", "INSTITUCION")]
    text = "Su madre y dos hermanos; abuela materna sana. Solución madre y células madre."
    assert [t for t, _ in names_of(KinshipRecognizer(), text)] == ["madre", "dos hermanos", "abuela materna"]


# -- the gazetteer and the command line ---------------------------------------------------------

def test_shipped_gazetteer_is_what_the_build_command_writes(tmp_path) -> None:
    config = GazetteerConfig(out=tmp_path / "names.tsv", places_out=tmp_path / "places.tsv")
    assert main(["gazetteer", "--out", str(config.out), "--places-out", str(config.places_out)]) == 0
    shipped = load_gazetteer()
    rebuilt = load_gazetteer(config.out)
    assert rebuilt == shipped
    assert shipped.is_given("Ximena") and shipped.is_surname("Huenchumán") and shipped.is_surname("Bueno")
    assert not any(shipped.is_name(w) for w in ("Paciente", "Servicio", "Madre", "Paracetamol", "Madrid"))
    assert ("Temuco", "TERRITORIO", "alta-handwritten") in build_places(config)


def test_gazetteer_build_reads_meddocan_name_fields(tmp_path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    text = "Nombre: Ernestina.\nApellidos: Quilapán Rivas.\nMédico: Ignacio Navarro Cuéllar.\nPaciente: varón.\n"
    spans = [PhiSpan(text.index(name), text.index(name) + len(name), kind) for name, kind in
             (("Ernestina", PATIENT), ("Quilapán Rivas", PATIENT), ("Ignacio Navarro Cuéllar", STAFF))]
    (corpus / "doc.txt").write_text(text, encoding="utf-8")
    (corpus / "doc.ann").write_text(format_ann(text, spans), encoding="utf-8")
    seed = tmp_path / "seed.tsv"
    seed.write_text("name\tkind\tsource\nIgnacio\tgiven\talta-handwritten\nSeñora\tgiven\tbad\n", encoding="utf-8")
    rows = {name: (kind, sources) for name, kind, sources in build_gazetteer(GazetteerConfig(seed=seed, train=corpus))}
    assert rows["Ernestina"] == ("given", "meddocan-train")
    assert rows["Quilapán"] == ("surname", "meddocan-train") and rows["Rivas"] == ("surname", "meddocan-train")
    assert rows["Ignacio"] == ("given", "alta-handwritten,meddocan-train")
    assert rows["Navarro"][0] == "surname" and rows["Cuéllar"][0] == "surname"
    assert "Señora" not in rows  # a word the recognisers treat as a non-name never enters
    write_gazetteer(list((n, k, s) for n, (k, s) in rows.items()), tmp_path / "out.tsv")
    assert load_gazetteer(tmp_path / "out.tsv").is_surname("quilapan")


def test_evaluate_command_scores_either_profile(tmp_path) -> None:
    corpus = write_corpus(read_corpus("third_party/meddocan/train")[:2], tmp_path / "corpus")
    for profile in ("meddocan", "translation"):
        out = tmp_path / f"{profile}.json"
        assert main(["evaluate", "--data", str(corpus), "--profile", profile, "--json", str(out)]) == 0
        assert f'"profile": "{profile}"' in out.read_text(encoding="utf-8")


# -- re-identification stays exact --------------------------------------------------------------

LATAM = [
    "Paciente Juan Pérez González, de 45 años", "Paciente: Rosa Elena Martínez Fuentes\n", "C. JUAN HERNÁNDEZ LÓPEZ",
    "Nombre: PÉREZ GONZÁLEZ, JUAN\n", "RUT: 12.345.678-5", "Sra. Martínez Fuentes", "madre de nombre Carmen Soto",
    "Dr. Rodrigo Sepúlveda Muñoz", "UMF No. 20", "la familia", "__PHI_NOMBRE_1__", " ", ", ", "\n",
]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(LATAM), st.text(max_size=8)), max_size=12).map("".join))
def test_latam_text_round_trips(analyzer: Analyzer, text: str) -> None:
    result = deidentify(text, analyzer=analyzer)
    assert reidentify(result.text, result.mapping) == text
    assert check_placeholders(result.text, result.mapping).ok
