"""Restored dates and ages in an English translation: rewritten in English when understood, else as written."""

from __future__ import annotations

import asyncio

import pytest

from clinical.deid import deidentify, reidentify
from clinical.translate import translate_document
from clinical.translate.english_phi import render_in_english
from tests.support.translation import GlossaryTranslator


@pytest.mark.parametrize(("type_", "original", "english"), [
    ("FECHA", "21 de febrero de 2002", "21 February 2002"),
    ("FECHA", "mayo del 2006", "May 2006"),
    ("FECHA", "30-marzo-2004", "30 March 2004"),
    ("FECHA", "03/04/2016", "3 April 2016"),  # day first, as the Spanish writer meant: not March 4th
    ("FECHA", "7 dic. 2019", "7 December 2019"),
    ("FECHA", "Marzo", "March"),
    ("EDAD", "93 años", "93 years"),
    ("EDAD", "1 mes", "1 month"),
    ("EDAD", "8 meses de edad", "8 months old"),
    # not understood: left exactly as written, never guessed
    ("FECHA", "13/13/2016", "13/13/2016"),
    ("FECHA", "2004", "2004"),
    ("FECHA", "primavera de 2004", "primavera de 2004"),
    ("EDAD", "noventa años", "noventa años"),
    ("NOMBRE", "Marzo Pérez", "Marzo Pérez"),  # only dates and ages are rewritten
])
def test_render_in_english(type_: str, original: str, english: str) -> None:
    assert render_in_english(type_, original) == english


def test_without_a_renderer_reidentification_stays_byte_for_byte() -> None:
    text = "Ingresó el 21 de febrero de 2002 con 93 años."
    result = deidentify(text)
    assert "21 de febrero" not in result.text
    assert reidentify(result.text, result.mapping) == text


def test_a_translation_shows_restored_dates_in_english() -> None:
    note = "EPICRISIS\n\nPaciente Marcela Soto Aravena ingresa el 21 de febrero de 2002 por fiebre."
    result = asyncio.run(translate_document(note, _complete(GlossaryTranslator())))
    assert "21 February 2002" in result.text and "febrero" not in result.text
    assert "Marcela Soto Aravena" in result.text


def _complete(engine: GlossaryTranslator):
    async def complete(messages, *, attempt: int) -> str:
        return (await engine.complete(messages, "translation")).text
    return complete
