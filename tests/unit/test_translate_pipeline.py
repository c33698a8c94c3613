"""The translation pipeline: PHI never reaches the model, placeholders checked (one retry), PHI restored.

The success path runs on the test double ``GlossaryTranslator`` (no translation model can be
downloaded here); the failure path also on a real ONNX Runtime engine with a random tiny bundle
registered for the "translation" task, which cannot keep placeholders.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest

from backend.core.config import Settings
from backend.engines.onnx import OnnxEngine
from backend.services.translation import count_tokens_for, engine_complete
from clinical.deid import deidentify
from clinical.deid.placeholders import PLACEHOLDER
from clinical.translate import (
    Answer,
    ChunkTranslationError,
    cache_key,
    glossary_version,
    translate_deidentified,
    translate_document,
)
from devtools import export_testing as testing
from tests.support.translation import (
    NOTE,
    GlossaryTranslator,
    drop_first_placeholder,
    duplicate_first_placeholder,
    only_first_call,
    scan_for_phi,
)

BUDGET = 40  # estimated tokens: NOTE becomes several chunks


def completer(engine: GlossaryTranslator, attempts: list[int] | None = None):
    async def complete(messages, *, attempt: int) -> str:
        if attempts is not None:
            attempts.append(attempt)
        return (await engine.complete(messages, "translation")).text
    return complete


def sent_to_model(engine: GlossaryTranslator) -> str:
    return json.dumps([messages for messages, _params in engine.calls], ensure_ascii=False)


class DictCache:
    def __init__(self) -> None:
        self.rows: dict[str, str] = {}

    async def get(self, source: str) -> str | None:
        return self.rows.get(source)

    async def put(self, source: str, translation: str) -> None:
        self.rows[source] = translation


def test_translation_restores_phi_keeps_layout_and_never_shows_the_model_phi(caplog) -> None:
    caplog.set_level(logging.DEBUG)
    engine = GlossaryTranslator()
    result = asyncio.run(translate_document(NOTE, completer(engine), budget=BUDGET))

    assert result.chunks > 2 and len(engine.calls) == result.chunks
    assert scan_for_phi(sent_to_model(engine), caplog.text, repr(result)) == []
    # the restored English holds the PHI again, and nothing placeholder-like is left
    for phi in ("Marcela Soto Aravena", "12.345.678-5", "+56 9 8765 4321"):
        assert phi in result.text
    assert not PLACEHOLDER.search(result.text) and "__PHI" not in result.text
    assert result.text.startswith("DISCHARGE SUMMARY\n\nName: Marcela Soto Aravena.")
    assert result.text.count("\n\n") == NOTE.count("\n\n")
    assert "hypertension" in result.text and "acetaminophen" in result.text
    assert result.term_accuracy == 1.0 and result.retries == 0
    # the phone is in two chunks, and both got the same placeholder: one document, one mapping
    phone_calls = [m for m, _p in engine.calls if "__PHI_TELEFONO_1__" in m[-1]["content"]]
    assert len(phone_calls) == 2


@pytest.mark.parametrize("mangle", [drop_first_placeholder, duplicate_first_placeholder])
def test_a_chunk_with_a_lost_or_extra_placeholder_is_retried_once(mangle, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    engine = GlossaryTranslator(only_first_call(mangle))
    attempts: list[int] = []
    result = asyncio.run(translate_document(NOTE, completer(engine, attempts), budget=BUDGET))
    assert attempts[:3] == [0, 1, 0] and result.retries == 1
    assert "Marcela Soto Aravena" in result.text
    assert "attempt 1 unusable: placeholders not kept" in caplog.text
    assert scan_for_phi(caplog.text) == []


def test_a_model_that_always_loses_a_placeholder_fails_naming_it_not_the_phi(caplog) -> None:
    caplog.set_level(logging.DEBUG)
    engine = GlossaryTranslator(drop_first_placeholder)
    attempts: list[int] = []
    with pytest.raises(ChunkTranslationError) as failure:
        asyncio.run(translate_document(NOTE, completer(engine, attempts), budget=BUDGET))
    message = str(failure.value)
    assert attempts == [0, 1]  # the first chunk, twice; nothing after it
    assert failure.value.code == "placeholders_not_kept"
    assert "chunk 1 of" in message and "missing __PHI_NOMBRE_1__ (x1)" in message and "after 2 attempts" in message
    assert scan_for_phi(message, caplog.text) == []


def test_invented_and_damaged_placeholders_are_counted_not_quoted() -> None:
    def invent(text: str, _call: int) -> str:
        return text + " __PHI_NOMBRE_9__ __PHI_MARCELA_1__ __phi_telefono_1__"

    deid = deidentify("Nombre: Marcela Soto Aravena.\nTeléfono: +56 9 8765 4321")
    with pytest.raises(ChunkTranslationError) as failure:
        asyncio.run(translate_deidentified(deid, completer(GlossaryTranslator(invent))))
    message = str(failure.value)
    assert "invented __PHI_NOMBRE_9__, 1 of an unknown type" in message
    assert "1 altered placeholder-like fragment(s)" in message
    assert "MARCELA" not in message.upper() and "phi_telefono" not in message


@pytest.mark.parametrize(("answer", "code"), [(Answer("Patient __PHI_NOMBRE_1__ was", truncated=True),
                                               "translation_truncated"),
                                              (Answer("   "), "empty_translation")])
def test_cut_or_empty_answers_are_retried_then_fail(answer: Answer, code: str) -> None:
    calls = []

    async def complete(messages, *, attempt: int) -> Answer:
        calls.append(attempt)
        return answer

    deid = deidentify("Nombre: Marcela Soto Aravena." if answer.text.strip() else "Paciente con fiebre.")
    with pytest.raises(ChunkTranslationError) as failure:
        asyncio.run(translate_deidentified(deid, complete))
    assert failure.value.code == code and calls == [0, 1]


def test_cached_chunks_skip_the_model_and_hold_no_phi() -> None:
    cache = DictCache()
    first = GlossaryTranslator()
    one = asyncio.run(translate_document(NOTE, completer(first), budget=BUDGET, cache=cache))
    assert len(cache.rows) == one.chunks and one.cached_chunks == 0
    assert scan_for_phi(json.dumps(cache.rows, ensure_ascii=False)) == []

    second = GlossaryTranslator()
    two = asyncio.run(translate_document(NOTE, completer(second), budget=BUDGET, cache=cache))
    assert second.calls == [] and two.cached_chunks == two.chunks and two.text == one.text

    # a cached answer that no longer holds the chunk's placeholders is not trusted
    source = next(s for s in cache.rows if "__PHI_NOMBRE_1__" in s)
    cache.rows[source] = "Name: (lost)"
    third = GlossaryTranslator()
    three = asyncio.run(translate_document(NOTE, completer(third), budget=BUDGET, cache=cache))
    assert len(third.calls) == 1 and three.text == one.text


def test_the_cache_key_covers_model_version_contract_and_glossary() -> None:
    key = cache_key("Paciente __PHI_NOMBRE_1__.", "m", "1")
    assert len(key) == 64 and key == cache_key("Paciente __PHI_NOMBRE_1__.", "m", "1")
    assert len({key, cache_key("Paciente __PHI_NOMBRE_1__.", "m", "2"), cache_key("Paciente __PHI_NOMBRE_1__.", "n", "1"),
                cache_key("Paciente __PHI_NOMBRE_2__.", "m", "1")}) == 4
    assert len(glossary_version()) == 16


def test_page_breaks_come_back_where_they_were() -> None:
    text = "EPICRISIS\n\nNombre: Marcela Soto Aravena.\fEVOLUCIÓN\n\nAfebril desde el tercer día.\f\fFin."
    result = asyncio.run(translate_document(text, completer(GlossaryTranslator()), budget=200))
    pages = result.text.split("\f")
    assert len(pages) == 4 and pages[0].startswith("DISCHARGE SUMMARY") and pages[1].startswith("COURSE")
    assert pages[2] == ""


# --- a real ONNX Runtime engine on a random tiny bundle ------------------------------------------

@pytest.fixture(scope="module")
def translation_models(tmp_path_factory) -> Path:
    """A models/ folder whose catalog registers the tiny bundle for the "translation" task."""
    return testing.catalog_dir(tmp_path_factory.mktemp("models"), testing.tiny_bundle().out, ["translation"])


def test_a_random_onnx_model_fails_cleanly_after_one_retry(translation_models: Path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    settings = Settings(environment="test", models_dir=translation_models, translation_max_new_tokens=12)
    engine = OnnxEngine.from_settings(settings)
    assert engine.tasks == ("translation",)
    attempts: list[int] = []
    complete = engine_complete(engine, settings)

    async def counted(messages, *, attempt: int):
        attempts.append(attempt)
        return await complete(messages, attempt=attempt)

    with pytest.raises(ChunkTranslationError) as failure:
        asyncio.run(translate_document(NOTE, counted, count_tokens=count_tokens_for(engine), budget=160))
    engine.close()
    assert attempts == [0, 1]
    assert failure.value.code == "placeholders_not_kept"
    assert "missing __PHI_" in str(failure.value)
    assert scan_for_phi(str(failure.value), caplog.text) == []
