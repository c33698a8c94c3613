"""The Apertium engine: the rule-based floor, placeholders and glossary terms protected."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.engines.apertium import MODEL, ApertiumEngine, installed_modes, source_text
from backend.engines.base import EngineUnsupported
from clinical.contract import translation_messages
from clinical.deid.placeholders import PLACEHOLDER
from clinical.translate.protect import protect, restore

needs_apertium = pytest.mark.skipif("spa-eng" not in installed_modes(),
                                    reason="apertium spa-eng is not installed (scripts/system-deps.sh test)")

NOTE = ("Paciente __PHI_NOMBRE_1__ de __PHI_EDAD_1__ con HTA y neumonía adquirida en la comunidad. "
        "Recibió paracetamol 1 g cada 8 horas y enoxaparina.\n\nFecha: __PHI_FECHA_2__. Control en CESFAM.")


def run(coro):
    return asyncio.run(coro)


def test_protect_swaps_placeholders_and_terms_for_tokens_and_back() -> None:
    protected = protect(NOTE)
    assert "PHI" not in protected.text and "paracetamol" not in protected.text
    assert protected.placeholders == 3 and protected.terms >= 5
    restored = restore(protected.text, protected)
    assert PLACEHOLDER.findall(restored) == PLACEHOLDER.findall(NOTE)
    assert "acetaminophen" in restored and "community-acquired pneumonia" in restored
    assert "hypertension" in restored and "every 8 hours" in restored


def test_protect_keeps_a_token_like_word_of_the_source() -> None:
    text = "xqbqx __PHI_NOMBRE_1__ XQCQX"
    protected = protect(text, terms=False)
    assert restore(protected.text, protected) == text


def test_a_token_damaged_beyond_recognition_is_left_for_the_placeholder_check() -> None:
    protected = protect("Paciente __PHI_NOMBRE_1__.", terms=False)
    assert "PHI" not in restore(protected.text.replace("xqbqx", "xq bqx"), protected)


def test_restore_ignores_tokens_it_never_issued() -> None:
    assert restore("xqlqx", protect("", terms=False)) == "xqlqx"


_PLACEHOLDERS = st.builds(lambda t, n: f"__PHI_{t}_{n}__", st.sampled_from(["NOMBRE", "FECHA", "EDAD", "RUT",
                                                                            "TELEFONO", "CORREO"]),
                          st.integers(1, 40))
_WORDS = st.sampled_from(["paciente", "con", "HTA", "fecha", "el", "día", "paracetamol", "xqbqx", "PHI",
                          "__", "_", ",", ".", "\n", "\n\n", "neumonía", "DM2", "EPOC", "año", "1 g"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(_PLACEHOLDERS, _WORDS), max_size=40), st.sampled_from([" ", "", "\n"]))
def test_protection_round_trips_every_placeholder(parts: list[str], glue: str) -> None:
    text = glue.join(parts)
    protected = protect(text)
    assert not PLACEHOLDER.search(protected.text)
    assert sorted(PLACEHOLDER.findall(restore(protected.text, protected))) == sorted(PLACEHOLDER.findall(text))


def test_source_text_reads_the_contract_and_plain_messages() -> None:
    assert source_text(translation_messages("Hola __PHI_NOMBRE_1__", [("HTA", "hypertension")])) == \
        "Hola __PHI_NOMBRE_1__"
    assert source_text([{"role": "user", "content": "dolor abdominal"}]) == "dolor abdominal"
    assert source_text([{"role": "system", "content": "x"}]) == ""


def test_an_engine_without_apertium_is_unhealthy_and_says_how_to_install(tmp_path) -> None:
    engine = ApertiumEngine(binary=str(tmp_path / "no-apertium"))
    health = run(engine.health())
    assert not health.healthy and not health.busy
    assert "apertium-eng-spa" in health.detail


def test_only_translation_is_done() -> None:
    with pytest.raises(EngineUnsupported):
        run(ApertiumEngine().complete([{"role": "user", "content": "x"}], "epicrisis"))


@needs_apertium
def test_apertium_translates_with_placeholders_and_terms_kept() -> None:
    engine = ApertiumEngine()
    assert run(engine.health()).healthy
    completion = run(engine.complete(translation_messages(NOTE), "translation"))
    assert completion.model == MODEL and "rule-based" in completion.model
    text = completion.text
    assert PLACEHOLDER.findall(text) == PLACEHOLDER.findall(NOTE)
    for english in ("acetaminophen", "community-acquired pneumonia", "hypertension", "every 8 hours",
                    "enoxaparin", "Patient"):
        assert english in text
    assert "\n\n" in text and "*" not in text


@needs_apertium
def test_the_stream_is_the_completion() -> None:
    engine = ApertiumEngine()
    messages = translation_messages("Dolor torácico de __PHI_EDAD_1__.")

    async def chunks() -> list[str]:
        return [c async for c in engine.stream_complete(messages, "translation")]

    assert "".join(run(chunks())) == run(engine.complete(messages, "translation")).text


@needs_apertium
def test_blank_text_is_returned_as_is() -> None:
    assert run(ApertiumEngine().translate("  \n")) == "  \n"


@needs_apertium
def test_headings_stay_in_capitals_and_clinical_phrases_read_as_english() -> None:
    text = run(ApertiumEngine().translate(
        "EVOLUCIÓN\n__PHI_NOMBRE_1__ evoluciona favorablemente. Se indica paracetamol 1 g al día.\n\n"
        "ANTECEDENTES\nAntecedentes de HTA."))
    lines = text.split("\n")
    assert lines[0] == "EVOLUTION" and lines[3] == "HISTORY"
    assert "__PHI_NOMBRE_1__ progresses favorably" in text
    assert "Prescribed acetaminophen 1 g per day" in text and "History of hypertension" in text
