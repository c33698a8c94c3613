"""The rule recognisers: check-digit identifiers are accepted when valid and rejected when not."""

from __future__ import annotations

import pytest

from clinical.deid.recognizers import (
    CurpRecognizer,
    DateRecognizer,
    DniRecognizer,
    EmailRecognizer,
    InsuranceIdRecognizer,
    LicenceRecognizer,
    NhcRecognizer,
    NieRecognizer,
    NssRecognizer,
    PhoneRecognizer,
    RfcRecognizer,
    RutRecognizer,
    UrlRecognizer,
)
from clinical.deid.recognizers.rfc import rfc_check_digit, rfc_is_valid
from clinical.deid.span import PhiSpan
from clinical.deid.span_merger import merge_spans


def found(recognizer, text: str) -> list[str]:
    return [text[s.start:s.end] for s in recognizer.analyze(text)]


@pytest.mark.parametrize(
    ("recognizer", "valid", "invalid"),
    [
        (RutRecognizer(), ["12.345.678-5", "12345678-5", "7654321-6", "7.654.321-6"], ["12.345.678-4", "7654321-K"]),
        (CurpRecognizer(), ["GODE561231HDFRRN00"], ["GODE561231HDFRRN01", "GODE561331HDFRRN00"]),
        (RfcRecognizer(), ["GODE561231GR8", "MAB930714 8T4", "GODE-561231-GR8"], ["GODE561231GR7", "GODE561331GR8"]),
        (DniRecognizer(), ["12345678Z", "12.345.678-Z", "00000000T"], ["12345678A", "00000000R"]),
        (NieRecognizer(), ["X1234567L", "X-1234567-L"], ["X1234567A", "Y1234567L"]),
    ],
)
def test_check_digit_identifiers(recognizer, valid: list[str], invalid: list[str]) -> None:
    for value in valid:
        text = f"Paciente con identificador {value}, sin alergias."
        spans = recognizer.analyze(text)
        assert [text[s.start:s.end] for s in spans] == [value], value
        assert spans[0].validated and spans[0].type == "ID_SUJETO_ASISTENCIA"
    for value in invalid:
        assert recognizer.analyze(f"Paciente con identificador {value}, sin alergias.") == [], value


def test_rfc_check_digit_algorithm() -> None:
    # The SAT's examples: a person (13 characters) and a company (12, padded with a space).
    assert rfc_check_digit("GODE561231GR") == "8"
    assert rfc_check_digit("MAB9307148T") == "4"
    assert rfc_is_valid("mab-930714-8t4")
    assert not rfc_is_valid("GODE560231GR8")  # 31 February


def test_nss_needs_its_context_and_luhn_digit() -> None:
    recognizer = NssRecognizer()
    assert found(recognizer, "NSS: 12345678903.") == ["12345678903"]
    assert found(recognizer, "Afiliación IMSS 12-34-56-7890-3") == ["12-34-56-7890-3"]
    assert found(recognizer, "NSS: 12345678904.") == []  # wrong Luhn digit
    assert found(recognizer, "Episodio 12345678903.") == []  # no word naming an NSS
    assert recognizer.analyze("NSS: 12345678903")[0].type == "ID_ASEGURAMIENTO"


def test_labelled_identifiers() -> None:
    assert found(NhcRecognizer(), "NHC: 368503.\nNASS: 26 63514095.") == ["368503"]
    assert found(InsuranceIdRecognizer(), "NHC: 368503.\nNASS: 26 63514095.") == ["26 63514095"]
    assert found(LicenceRecognizer(), "Médico: Ignacio Navarro NºCol: 28 28 70973.") == ["28 28 70973"]
    assert found(LicenceRecognizer(), "Cédula profesional 1234567") == ["1234567"]


def test_contact_recognizers() -> None:
    assert found(EmailRecognizer(), "E-mail: nnavcu@hotmail.com.") == ["nnavcu@hotmail.com"]
    assert found(UrlRecognizer(), "Ver https://www.hospital.example/citas.") == ["https://www.hospital.example/citas"]
    assert found(PhoneRecognizer(), "Tfno. 956 013 059 y móvil +56 9 8765 4321.") == ["956 013 059", "+56 9 8765 4321"]
    assert PhoneRecognizer().analyze("Fax: 91 336 87 85")[0].type == "NUMERO_FAX"
    assert found(PhoneRecognizer(), "Glucosa 110 120 130 140 mg/dl") == []


def test_dates() -> None:
    text = "Ingresó el 12/05/2016, operado el 21 de febrero de 2002 y controlado en mayo del 2006; Hb 13/45."
    assert found(DateRecognizer(), text) == ["12/05/2016", "21 de febrero de 2002", "mayo del 2006"]
    assert found(DateRecognizer(), "relación 45/60/90 y 35/13/2001") == []


def test_validated_identifier_wins_over_a_longer_span() -> None:
    text = "RUT 12.345.678-5 Juan Soto"
    crf = PhiSpan(0, 26, "NOMBRE_SUJETO_ASISTENCIA", source="crf")
    rut = PhiSpan(4, 16, "ID_SUJETO_ASISTENCIA", source="rut", validated=True)
    merged = merge_spans(text, [crf, rut])
    assert rut in merged
    # The rest of the loser is kept where it is more than an identifier's label, so nothing of
    # the name is left visible and the word "RUT" stays readable.
    assert [(text[s.start:s.end], s.type) for s in merged] == [
        ("12.345.678-5", "ID_SUJETO_ASISTENCIA"), ("Juan Soto", "NOMBRE_SUJETO_ASISTENCIA")]


def test_longest_span_wins_otherwise() -> None:
    text = "el 21 de febrero de 2002"
    short = PhiSpan(9, 24, "FECHAS", source="crf")
    long = PhiSpan(3, 24, "FECHAS", source="date")
    assert merge_spans(text, [short, long]) == [long]


def test_boundary_fixes() -> None:
    from clinical.deid.crf.boundaries import fix_boundaries

    text = "Remitido por: Doctora Marta García. Hospital de Getafe Carretera Toledo 28905 La Habana CURP"
    spans = [
        PhiSpan(14, 34, "NOMBRE_PERSONAL_SANITARIO"),
        PhiSpan(36, 71, "HOSPITAL"),
        PhiSpan(78, 80, "TERRITORIO"),
        PhiSpan(81, 87, "TERRITORIO"),
        PhiSpan(88, 92, "TERRITORIO"),
    ]
    fixed = [(text[s.start:s.end], s.type) for s in fix_boundaries(text, spans)]
    assert fixed == [
        ("Marta García", "NOMBRE_PERSONAL_SANITARIO"),
        ("Hospital de Getafe", "HOSPITAL"),
        ("Carretera Toledo", "CALLE"),
        ("La Habana", "TERRITORIO"),
    ]
