"""Record-constrained decoding on the shipped demo bundle: every constrained draft passes the record review.

Unconstrained, the 2.6M-parameter demo model writes another patient's identity and invents drugs and
dates; held to its record's grammar (clinical.grammar, xgrammar masks in the decode loop) its greedy
and sampled drafts of every example record pass ``check_draft``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys

import pytest

from backend.core.config import Settings
from backend.engines.bundle import open_bundle
from backend.engines.decoding import SamplingParams
from backend.engines.onnx import OnnxEngine
from backend.services.epicrisis import stream_with, write_with
from clinical.checks import check_draft
from clinical.contract import GOLDEN_TODAY, epicrisis_messages, example_records, translation_messages
from clinical.record import HospitalStay
from tests.support import REPO

pytest.importorskip("xgrammar", reason="the constrain extra (make test installs it)")

BUNDLE = REPO / "models/demo-onnx"
CATALOG_DTYPE = json.loads((REPO / "models/catalog.json").read_text())["models"][0]["dtype"]


def stays() -> dict[str, HospitalStay]:
    return {name: HospitalStay.model_validate(raw, context={"today": GOLDEN_TODAY})
            for name, raw in example_records().items()}


@pytest.fixture(scope="module")
def engine() -> OnnxEngine:
    return OnnxEngine(open_bundle(BUNDLE, CATALOG_DTYPE), threads=2, constrain=True,
                      defaults=SamplingParams(max_new_tokens=1536))


@pytest.mark.parametrize("name", sorted(example_records()))
def test_greedy_constrained_drafts_of_the_demo_model_pass_the_review(engine, name):
    stay = stays()[name]
    draft = asyncio.run(write_with(engine, stay))
    report = check_draft(stay, draft.text)
    assert report.ok, [(f.code, f.text) for f in report.findings]
    assert draft.engine == "onnx"
    ids = engine.generate_ids(engine.encode(stay), constraint=engine.constraints.for_stay(stay))
    assert engine.tokenizer.decode(ids, skip_special_tokens=True) == draft.text  # the API path is this path


def test_sampled_constrained_drafts_pass_the_review_and_differ_by_seed(engine):
    stay = stays()["colecistitis_mexico"]
    ids = engine.encode(stay)
    drafts = []
    for seed in (1, 2, 3):
        out = engine.generate_ids(ids, temperature=1.0, top_p=0.95, seed=seed, constraint=engine.constraints.for_stay(stay))
        drafts.append(engine.tokenizer.decode(out, skip_special_tokens=True))
        assert check_draft(stay, drafts[-1]).ok
    assert len(set(drafts)) > 1


def test_the_unconstrained_demo_model_fails_the_review(engine):
    stay = stays()["minimo"]
    ids = engine.generate_ids(engine.encode(stay), max_new_tokens=400)
    assert not check_draft(stay, engine.tokenizer.decode(ids, skip_special_tokens=True)).ok


def test_streamed_constrained_draft_is_the_generated_one(engine):
    stay = stays()["minimo"]

    async def both():
        return "".join([c async for c in stream_with(engine, stay)]), (await write_with(engine, stay)).text

    streamed, generated = asyncio.run(both())
    assert streamed == generated and check_draft(stay, streamed).ok


def test_only_epicrisis_requests_with_a_record_are_constrained(engine):
    stay = stays()["minimo"]
    assert engine.constraint_for(epicrisis_messages(stay), "epicrisis") is not None
    assert engine.constraint_for(translation_messages("Paciente con fiebre."), "translation") is None
    chat = [{"role": "user", "content": "Redacta una epicrisis breve."}]
    assert engine.constraint_for(chat, "epicrisis") is None


def test_health_says_drafts_are_constrained(engine):
    health = asyncio.run(engine.health())
    assert health.healthy and "constrained to the record's grammar (xgrammar 0.2.8)" in health.detail


def test_settings_turn_it_on_by_default_and_off_on_request():
    assert Settings(environment="test").onnx_constrain is True
    off = OnnxEngine.from_settings(Settings(environment="test", onnx_bundle=BUNDLE, onnx_constrain=False))
    assert off.constraints is None and "ALTA_ONNX_CONSTRAIN=false" in asyncio.run(off.health()).detail
    off.close()


def test_without_xgrammar_drafts_are_unconstrained_and_it_is_said(monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "xgrammar", None)  # import xgrammar -> ImportError
    with caplog.at_level(logging.WARNING, logger="backend.engines.constraint"):
        engine = OnnxEngine(open_bundle(BUNDLE, CATALOG_DTYPE), constrain=True)
    assert engine.constraints is None
    assert "NOT constrained" in caplog.text and "pip install -e .[constrain]" in caplog.text
    detail = asyncio.run(engine.health()).detail
    assert "unconstrained (xgrammar is not installed" in detail
    engine.close()


@pytest.mark.parametrize("name", sorted(example_records()))
def test_the_api_stores_the_demo_models_constrained_draft_under_the_default_chain(settings, auth, name):
    """What `make run` serves: the catalog's demo bundle first, the template behind it; the constrained
    draft passes the review, so the model's draft is the stored one."""
    from fastapi.testclient import TestClient

    from backend.app import create_app

    app_settings = settings.model_copy(update={"engines": ["onnx", "template"], "models_dir": REPO / "models",
                                               "onnx_threads": 2})
    with TestClient(create_app(app_settings)) as client:
        models = client.get("/api/v1/models", headers=auth).json()
        assert "constrained to the record's grammar" in models[0]["detail"]
        answer = client.post("/api/v1/epicrisis", headers=auth, json={"record": example_records()[name]})
        body = answer.json()
        assert answer.status_code == 201, body
        assert body["provenance"]["engine"] == "onnx" and body["provenance"]["fallbacks"] == []
        assert body["checks"]["ok"] is True and body["text"].startswith("IDENTIFICACIÓN\n")


def test_a_pick_outside_the_grammar_is_an_engine_error(engine):
    from backend.engines.base import EngineError

    constraint = engine.constraints.for_grammar('root ::= "zzz"')
    constraint.mask = lambda logits: logits  # a mask that was never applied
    with pytest.raises(EngineError, match="not allowed by the record's grammar"):
        engine.generate_ids(engine.encode(stays()["minimo"]), max_new_tokens=4, constraint=constraint)
