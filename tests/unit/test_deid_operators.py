"""Placeholders, their exact reverse, the translation check and surrogates (no model needed)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clinical.deid import (
    Analyzer,
    Anonymizer,
    PhiMapping,
    PhiSpan,
    SurrogateOperator,
    UnknownPlaceholderError,
    check_placeholders,
    deidentify,
    reidentify,
)
from clinical.deid.placeholders import PLACEHOLDER
from clinical.deid.recognizers import default_rule_recognizers
from clinical.identifiers import check_identifier

RULES = Analyzer(default_rule_recognizers())

TEXT = "Nombre: Ana Soto. Ana Soto ingresó el 12/05/2016. RUT 12.345.678-5. Control: Ana Soto."
SPANS = [
    PhiSpan(8, 16, "NOMBRE_SUJETO_ASISTENCIA"),
    PhiSpan(18, 26, "NOMBRE_SUJETO_ASISTENCIA"),
    PhiSpan(38, 48, "FECHAS"),
    PhiSpan(54, 66, "ID_SUJETO_ASISTENCIA", source="rut", validated=True),
    PhiSpan(77, 85, "NOMBRE_SUJETO_ASISTENCIA"),
]


def test_placeholders_are_typed_numbered_and_consistent() -> None:
    result = Anonymizer().anonymize(TEXT, SPANS)
    assert result.text == (
        "Nombre: __PHI_NOMBRE_1__. __PHI_NOMBRE_1__ ingresó el __PHI_FECHA_1__. "
        "RUT __PHI_ID_1__. Control: __PHI_NOMBRE_1__."
    )
    assert result.mapping.originals == {
        "__PHI_NOMBRE_1__": "Ana Soto", "__PHI_FECHA_1__": "12/05/2016", "__PHI_ID_1__": "12.345.678-5"}
    assert result.mapping.counts["__PHI_NOMBRE_1__"] == 3
    assert reidentify(result.text, result.mapping) == TEXT


def test_same_string_of_another_type_gets_its_own_placeholder() -> None:
    text = "Dr. Soto atiende a Soto."
    spans = [PhiSpan(4, 8, "NOMBRE_PERSONAL_SANITARIO"), PhiSpan(19, 23, "NOMBRE_SUJETO_ASISTENCIA")]
    result = Anonymizer().anonymize(text, spans)
    assert result.text == "Dr. __PHI_PROFESIONAL_1__ atiende a __PHI_NOMBRE_1__."


def test_mapping_round_trips_through_json_and_hides_phi_in_repr() -> None:
    mapping = Anonymizer().anonymize(TEXT, SPANS).mapping
    assert PhiMapping.from_dict(mapping.to_dict()) == mapping
    assert "Ana" not in repr(mapping) and "12.345" not in repr(mapping)
    assert "Ana" not in repr(Anonymizer().anonymize(TEXT, SPANS))


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_reidentify_inverts_deidentify_for_any_text(text: str) -> None:
    result = deidentify(text, analyzer=RULES)
    assert reidentify(result.text, result.mapping) == text
    # Every placeholder-like string in the output is one the mapping explains.
    assert all(m.group() in result.mapping for m in PLACEHOLDER.finditer(result.text))


_PHI = st.sampled_from([
    "12.345.678-5", "7654321-6", "GODE561231HDFRRN00", "12345678Z", "X1234567L", "GODE561231GR8",
    "juan.perez@correo.cl", "12/05/2016", "21 de febrero de 2002", "NHC: 368503", "Tel. +56 9 8765 4321",
    "__PHI_NOMBRE_1__", "__PHI_", "__PHI_X_1", "___PHI_FECHA_2___",
])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=12), _PHI), max_size=12).map("".join))
def test_reidentify_inverts_deidentify_with_planted_phi(text: str) -> None:
    result = deidentify(text, analyzer=RULES)
    assert reidentify(result.text, result.mapping) == text


def test_planted_identifiers_do_not_survive() -> None:
    text = "RUT 12.345.678-5, CURP GODE561231HDFRRN00, correo juan.perez@correo.cl, ingreso 12/05/2016."
    result = deidentify(text, analyzer=RULES)
    for secret in ("12.345.678-5", "GODE561231HDFRRN00", "juan.perez@correo.cl", "12/05/2016"):
        assert secret not in result.text


def test_text_that_looks_like_a_placeholder_is_escaped() -> None:
    text = "Ejemplo de marcador: __PHI_NOMBRE_1__ y __PHI_ sueltos; RUT 12.345.678-5"
    result = deidentify(text, analyzer=RULES)
    assert "__PHI_LITERAL_1__" in result.text
    assert reidentify(result.text, result.mapping) == text


def test_placeholder_check_reports_each_problem() -> None:
    source = "__PHI_NOMBRE_1__ vio a __PHI_NOMBRE_2__ el __PHI_FECHA_1__ y a __PHI_NOMBRE_1__."
    good = "__PHI_NOMBRE_1__ saw __PHI_NOMBRE_2__ on __PHI_FECHA_1__ and __PHI_NOMBRE_1__."
    assert check_placeholders(good, source).ok
    assert str(check_placeholders(good, source)) == "placeholders ok"

    missing = check_placeholders("__PHI_NOMBRE_1__ saw __PHI_NOMBRE_2__ and __PHI_NOMBRE_1__.", source)
    assert not missing.ok and missing.missing == {"__PHI_FECHA_1__": 1}

    duplicated = check_placeholders(good + " __PHI_NOMBRE_2__", source)
    assert duplicated.duplicated == {"__PHI_NOMBRE_2__": 1} and not duplicated.missing

    altered = check_placeholders(good.replace("__PHI_FECHA_1__", "__phi_fecha_1_"), source)
    assert altered.altered == ("__phi_fecha_1_",) and altered.missing == {"__PHI_FECHA_1__": 1}

    renamed = check_placeholders(good.replace("__PHI_FECHA_1__", "__PHI_DATE_1__"), source)
    assert renamed.unknown == ("__PHI_DATE_1__",)
    assert "missing __PHI_FECHA_1__" in renamed.describe() and "unknown __PHI_DATE_1__" in renamed.describe()


def test_placeholder_check_against_a_whole_document_mapping() -> None:
    result = Anonymizer().anonymize(TEXT, SPANS)
    assert check_placeholders(result.text, result.mapping).ok
    report = check_placeholders(result.text.replace("__PHI_ID_1__", "ID"), result.mapping)
    assert report.missing == {"__PHI_ID_1__": 1}


def test_unknown_placeholder_is_an_error_when_reidentifying() -> None:
    mapping = Anonymizer().anonymize(TEXT, SPANS).mapping
    with pytest.raises(UnknownPlaceholderError, match="check_placeholders"):
        reidentify("__PHI_NOMBRE_9__", mapping)
    assert reidentify("__PHI_NOMBRE_9__", mapping, strict=False) == "__PHI_NOMBRE_9__"


def test_surrogates_are_deterministic_consistent_and_valid() -> None:
    text = ("Ana Soto, RUT 12.345.678-5, ingresó el 12/05/2016 y egresó el 19/05/2016. "
            "Control de Ana Soto en Temuco.")
    second = text.rindex("Ana Soto")
    town = text.index("Temuco")
    spans = RULES.analyze(text) + [
        PhiSpan(0, 8, "NOMBRE_SUJETO_ASISTENCIA"), PhiSpan(second, second + 8, "NOMBRE_SUJETO_ASISTENCIA"),
        PhiSpan(town, town + 6, "TERRITORIO")]
    first = SurrogateOperator(seed=7).apply(text, spans)
    assert first == SurrogateOperator(seed=7).apply(text, spans)
    assert first.text != SurrogateOperator(seed=8).apply(text, spans).text
    values = {s.type: [] for s in first.spans}
    for span in first.spans:
        values[span.type].append(first.text[span.start:span.end])
    names = values["NOMBRE_SUJETO_ASISTENCIA"]
    assert names[0] == names[1] != "Ana Soto"
    (rut,) = values["ID_SUJETO_ASISTENCIA"]
    assert rut != "12.345.678-5" and re.fullmatch(r"\d{2}\.\d{3}\.\d{3}-[\dK]", rut)
    assert check_identifier("RUT", rut) is None
    # Both dates moved by the same number of days: the stay still lasts a week.
    admitted, discharged = (dt.datetime.strptime(d, "%d/%m/%Y") for d in values["FECHAS"])
    assert (discharged - admitted).days == 7 and values["FECHAS"][0] != "12/05/2016"
