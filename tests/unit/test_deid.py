"""The shipped de-identification model and pipeline: finds PHI, logs none, writes BRAT."""

from __future__ import annotations

import json
import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clinical.deid import Analyzer, check_placeholders, default_analyzer, deidentify, reidentify
from clinical.deid.__main__ import main
from clinical.deid.corpus.brat import format_ann, parse_ann, read_corpus, write_corpus
from clinical.deid.crf.recognizer import DEFAULT_MODEL_PATH, CrfRecognizer
from clinical.deid.span import PhiSpan

NOTE = (
    "Datos del paciente.\n"
    "Nombre: Ernesto.\n"
    "Apellidos: Rivera Bueno.\n"
    "NHC: 368503.\n"
    "Domicilio: Calle Miguel Benitez 90.\n"
    "Localidad/ Provincia: Madrid.\n"
    "Fecha de Ingreso: 12/12/2016.\n"
    "Médico: Ignacio Navarro Cuéllar NºCol: 28 28 70973.\n"
    "Informe clínico del paciente: varón de 70 años que ingresa en el Hospital Universitario La Paz "
    "por hematuria. El Sr. Rivera Bueno evoluciona favorablemente.\n"
)
PHI = ["Ernesto", "Rivera Bueno", "368503", "Calle Miguel Benitez 90", "Madrid", "12/12/2016",
       "Ignacio Navarro Cuéllar", "28 28 70973", "Hospital Universitario La Paz"]


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return default_analyzer()


def found(text: str, spans: list[PhiSpan]) -> dict[str, str]:
    return {text[s.start:s.end]: s.type for s in spans}


def test_shipped_model_loads_and_finds_a_patient_and_a_hospital() -> None:
    crf = CrfRecognizer(DEFAULT_MODEL_PATH)
    assert "B-NOMBRE_SUJETO_ASISTENCIA" in crf.labels
    text = ("Nombre: Lucía.\nApellidos: Ferrer Ibáñez.\n"
            "Paciente de 54 años trasladada al Hospital General Universitario Gregorio Marañón.")
    spans = found(text, crf.analyze(text))
    assert spans["Lucía"] == "NOMBRE_SUJETO_ASISTENCIA"
    assert spans["Ferrer Ibáñez"] == "NOMBRE_SUJETO_ASISTENCIA"
    assert spans["Hospital General Universitario Gregorio Marañón"] == "HOSPITAL"


def test_missing_model_says_how_to_train_it(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="python -m clinical.deid train"):
        CrfRecognizer(tmp_path / "none.crfsuite")


def test_pipeline_hides_every_phi_of_a_note_and_restores_it(analyzer: Analyzer) -> None:
    result = deidentify(NOTE, analyzer=analyzer)
    for secret in PHI:
        assert secret not in result.text, secret
    assert "hematuria" in result.text and "Informe clínico del paciente" in result.text
    # The surname in the narrative is the same placeholder as in the header.
    surname = next(p for p, o in result.mapping.originals.items() if o == "Rivera Bueno")
    assert result.text.count(surname) == 2
    assert check_placeholders(result.text, result.mapping).ok
    assert reidentify(result.text, result.mapping) == NOTE


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=20), st.sampled_from(PHI + ["Nombre: ", "\n", "Dr. ", "__PHI_"])),
                max_size=15).map("".join))
def test_full_pipeline_round_trips_any_text(analyzer: Analyzer, text: str) -> None:
    result = deidentify(text, analyzer=analyzer)
    assert reidentify(result.text, result.mapping) == text
    assert check_placeholders(result.text, result.mapping).ok


def test_no_phi_in_log_records(analyzer: Analyzer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    result = deidentify(NOTE, analyzer=analyzer)
    check_placeholders(result.text.replace(next(iter(result.mapping.originals)), ""), result.mapping)
    reidentify(result.text, result.mapping)
    assert caplog.records, "the pipeline should log counts"
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for secret in PHI:
        assert secret not in logged, secret


def test_brat_output_round_trips(tmp_path) -> None:
    text = "Nombre: Ana.\nVive en\nTemuco.\n"
    spans = [PhiSpan(8, 11, "NOMBRE_SUJETO_ASISTENCIA"), PhiSpan(13, 27, "CALLE"), PhiSpan(21, 27, "TERRITORIO")]
    ann = format_ann(text, spans)
    assert ann.splitlines()[0] == "T1\tNOMBRE_SUJETO_ASISTENCIA 8 11\tAna"
    assert "\n" not in ann.splitlines()[1]
    assert [(s.start, s.end, s.type) for s in parse_ann(ann)] == [(s.start, s.end, s.type) for s in spans]


def test_annotate_command_writes_one_ann_per_txt(tmp_path) -> None:
    source, out = tmp_path / "in", tmp_path / "out"
    source.mkdir()
    (source / "nota.txt").write_text(NOTE, encoding="utf-8")
    (source / "vacia.txt").write_text("", encoding="utf-8")
    assert main(["annotate", "--in", str(source), "--out", str(out), "--format", "brat"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["nota.ann", "vacia.ann"]
    (document,) = [d for d in read_corpus(source) if d.name == "nota"]
    written = parse_ann((out / "nota.ann").read_text(encoding="utf-8"))
    expected = Analyzer.with_model().analyze(document.text)  # MEDDOCAN's guidelines, as BRAT output follows
    assert [(s.start, s.end, s.type) for s in written] == [(s.start, s.end, s.type) for s in expected]
    for span, line in zip(written, (out / "nota.ann").read_text(encoding="utf-8").splitlines(), strict=True):
        assert line.split("\t")[2] == NOTE[span.start:span.end]


def test_training_is_deterministic(tmp_path) -> None:
    from clinical.deid.crf.training import TrainConfig, train

    corpus = write_corpus(read_corpus("third_party/meddocan/train")[:4], tmp_path / "corpus")
    models = [train(TrainConfig(train=corpus, out=tmp_path / f"m{i}", max_iterations=15)) for i in range(2)]
    assert models[0].read_bytes() == models[1].read_bytes()
    assert (tmp_path / "m0" / "training.json").exists()


def test_crossval_scores_each_fold_with_a_model_that_never_saw_it(tmp_path) -> None:
    from clinical.deid.__main__ import main as deid_main

    documents = read_corpus("third_party/meddocan/train")[:6]
    corpus = write_corpus(documents, tmp_path / "corpus")
    errors = tmp_path / "errors.jsonl"
    assert deid_main(["crossval", "--train", str(corpus), "--out", str(tmp_path / "cv"), "--folds", "3",
                      "--max-iterations", "10", "--errors", str(errors)]) == 0
    for fold in range(3):  # each fold's model was trained on the other four documents only
        info = json.loads((tmp_path / "cv" / f"fold{fold}" / "training.json").read_text())
        assert info["documents"] == 4
    lines = [json.loads(line) for line in errors.read_text(encoding="utf-8").splitlines()]
    assert lines and {line["kind"] for line in lines} <= {"missed", "wrong"}
    for line in lines:
        document = next(d for d in documents if d.name == line["document"])
        assert document.text[line["start"]:line["end"]] == line["span"]
