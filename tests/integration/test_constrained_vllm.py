"""The vLLM engine sends an epicrisis request's record grammar in ``structured_outputs`` (vLLM >= 0.12).

Checked on the wire against the loopback OpenAI-compatible server the vLLM tests use (real HTTP,
nothing patched), and, with ``ALTA_TEST_VLLM_URL`` set (marker ``vllm``), against a live ``vllm serve``:
its constrained draft passes the record review.
"""

from __future__ import annotations

import asyncio
import os

import pytest

from backend.core.config import Settings
from backend.engines.base import GenerationParams
from backend.engines.vllm import VllmEngine
from clinical.checks import check_draft
from clinical.contract import GOLDEN_TODAY, epicrisis_messages, example_records, translation_messages
from clinical.grammar import epicrisis_grammar
from clinical.record import HospitalStay
from tests.fixtures.vllm.replay import ReplayServer
from tests.support import REPO

MODELS = {"epicrisis": "epicrisis", "translation": "translation"}


def stay_of(name: str) -> HospitalStay:
    return HospitalStay.model_validate(example_records()[name], context={"today": GOLDEN_TODAY})


@pytest.fixture
def vllm():
    with ReplayServer() as server:
        yield server


def sent_bodies(server: ReplayServer, engine: VllmEngine, requests: list[tuple[list[dict], str]]) -> list[dict]:
    async def scenario():
        for messages, task in requests:
            await engine.complete(messages, task, GenerationParams(max_new_tokens=32))
        await engine.aclose()

    asyncio.run(scenario())
    return [seen.body for seen in server.chats()]


def test_epicrisis_requests_carry_the_records_grammar(vllm):
    engine = VllmEngine([vllm.url], MODELS, constrain=True, health_ttl_s=0.0)
    stay = stay_of("neumonia_chile")
    epicrisis, translation, chat = sent_bodies(vllm, engine, [
        (epicrisis_messages(stay), "epicrisis"),
        (translation_messages("Paciente con fiebre."), "translation"),
        ([{"role": "user", "content": "Redacta una epicrisis breve."}], "epicrisis"),  # no record to hold it to
    ])
    golden = (REPO / "models/contract/grammars/neumonia_chile.ebnf").read_text(encoding="utf-8")
    assert epicrisis["structured_outputs"] == {"grammar": golden}
    assert epicrisis["model"] == "epicrisis" and epicrisis["messages"] == epicrisis_messages(stay)
    assert not any(key.startswith("guided_") for key in epicrisis)  # removed in vLLM 0.12
    assert "structured_outputs" not in translation and "structured_outputs" not in chat


def test_the_setting_turns_it_off(vllm):
    engine = VllmEngine([vllm.url], MODELS, constrain=False, health_ttl_s=0.0)
    (body,) = sent_bodies(vllm, engine, [(epicrisis_messages(stay_of("minimo")), "epicrisis")])
    assert "structured_outputs" not in body


def test_it_is_on_by_default():
    settings = Settings(environment="test", vllm_base_urls=["http://gpu-1:8000"])
    assert VllmEngine.from_settings(settings).constrain is True


@pytest.mark.vllm
def test_a_live_vllm_writes_a_draft_that_passes_the_review():
    url = os.environ.get("ALTA_TEST_VLLM_URL")
    if not url:
        pytest.fail("the vllm tests need ALTA_TEST_VLLM_URL, a `vllm serve` started with the command "
                    "`python -m training vllm-command` prints")
    engine = VllmEngine([url], MODELS, api_key=os.environ.get("ALTA_TEST_VLLM_API_KEY"), constrain=True)
    stay = stay_of("minimo")

    async def scenario():
        try:
            return await engine.complete(epicrisis_messages(stay), "epicrisis", GenerationParams(max_new_tokens=1024))
        finally:
            await engine.aclose()

    completion = asyncio.run(scenario())
    assert completion.finish_reason == "stop" and check_draft(stay, completion.text).ok
    assert epicrisis_grammar(stay)  # the grammar it was held to
