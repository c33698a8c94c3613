"""Alta's OpenAI-compatible surface, in process: shapes, streaming, model names, errors, fallback.

The answers come from a real ONNX Runtime engine on a tiny exported bundle; the over-the-network
checks with the official ``openai`` client are in test_openai_live.py.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from backend.app import create_app
from backend.core.config import Settings
from backend.engines.base import Completion, Engine, EngineHealth, GenerationParams
from backend.engines.bundle import open_bundle
from backend.engines.onnx import OnnxEngine
from backend.engines.openai_protocol import MalformedAnswer
from backend.engines.registry import EngineRegistry
from clinical.contract import epicrisis_messages
from clinical.record import HospitalStay
from devtools import export_testing as testing

CHAT = "/v1/chat/completions"
NEW_TOKENS = 12


@pytest.fixture(scope="module")
def bundle_dir() -> Path:
    return testing.tiny_bundle().out


@pytest.fixture
def models_dir(bundle_dir, tmp_path) -> Path:
    return testing.catalog_dir(tmp_path / "models", bundle_dir)


@pytest.fixture
def api(settings: Settings, models_dir) -> TestClient:
    # The OpenAI surface, not the record grammar (tests/integration/test_constrained_onnx.py): free decoding,
    # so sampling parameters show in the first tokens rather than a grammar's forced identity lines.
    app_settings = settings.model_copy(update={"engines": ["onnx", "template"], "models_dir": models_dir,
                                               "onnx_constrain": False})
    with TestClient(create_app(app_settings)) as client:
        yield client


@pytest.fixture
def messages(record) -> list[dict[str, str]]:
    return epicrisis_messages(HospitalStay.model_validate(record))


def reference(bundle_dir: Path, messages, **params) -> str:
    """What the bundle writes for ``messages``, in this process, without HTTP."""
    engine = OnnxEngine(open_bundle(bundle_dir))
    try:
        return asyncio.run(engine.complete(messages, "epicrisis", GenerationParams(**params))).text
    finally:
        engine.close()


def sse_data(body: str) -> list[str]:
    return [line.removeprefix("data: ") for line in body.split("\n\n") if line.startswith("data: ")]


def test_chat_completion_has_openai_shape_and_names_the_engine(api, auth, messages, bundle_dir):
    response = api.post(CHAT, headers=auth, json={"model": "onnx/epicrisis", "messages": messages,
                                                  "max_tokens": NEW_TOKENS})
    assert response.status_code == 200, response.text
    assert response.headers["x-alta-engine"] == "onnx"
    body = response.json()
    assert body["object"] == "chat.completion" and body["model"] == "onnx/epicrisis"
    assert body["id"].startswith("chatcmpl-")
    choice = body["choices"][0]
    assert choice["message"]["role"] == "assistant" and choice["index"] == 0
    assert choice["message"]["content"] == reference(bundle_dir, messages, max_new_tokens=NEW_TOKENS)
    assert choice["finish_reason"] in ("stop", "length")
    usage = body["usage"]
    assert usage["completion_tokens"] <= NEW_TOKENS and usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    checks = body["alta"].pop("checks")
    assert body["alta"] == {"engine": "onnx", "model": "bundle", "model_version": body["alta"]["model_version"],
                            "demo": False, "fallbacks": []}
    # the pinned engine's answer is reviewed against the record the prompt carries, findings in plain view
    assert checks["reviewed"] is True and checks["ok"] is False and checks["findings"]


def test_the_chain_replaces_an_answer_that_fails_the_record_review(api, auth, messages):
    body = api.post(CHAT, headers=auth, json={"model": "epicrisis", "messages": messages,
                                              "max_tokens": NEW_TOKENS}).json()
    assert body["alta"]["engine"] == "template" and body["alta"]["checks"]["ok"] is True
    assert body["alta"]["fallbacks"][0]["engine"] == "onnx"
    assert body["alta"]["fallbacks"][0]["reason"].startswith("checks: draft failed the record review")


def test_sampling_parameters_reach_the_engine(api, auth, messages, bundle_dir):
    def ask(**params):
        body = {"model": "onnx/epicrisis", "messages": messages, "max_tokens": NEW_TOKENS, **params}
        return api.post(CHAT, headers=auth, json=body).json()["choices"][0]["message"]["content"]

    sampled = ask(temperature=1.0, top_p=0.95, seed=7)
    assert sampled == ask(temperature=1.0, top_p=0.95, seed=7)
    assert sampled == reference(bundle_dir, messages, max_new_tokens=NEW_TOKENS, temperature=1.0, top_p=0.95, seed=7)
    assert sampled != ask(temperature=1.0, top_p=0.95, seed=8)
    greedy = ask()
    assert ask(max_tokens=2) == ask(max_completion_tokens=2) == reference(bundle_dir, messages, max_new_tokens=2)
    assert len(ask(max_tokens=2)) < len(greedy)


def test_stream_sends_openai_chunks_then_done(api, auth, messages, bundle_dir):
    whole = api.post(CHAT, headers=auth, json={"model": "onnx/epicrisis", "messages": messages,
                                               "max_tokens": NEW_TOKENS})
    tokens_before = generated_tokens()
    response = api.post(CHAT, headers=auth, json={"model": "onnx/epicrisis", "messages": messages,
                                                  "max_tokens": NEW_TOKENS, "stream": True})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-alta-engine"] == "onnx"
    data = sse_data(response.text)
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    assert all(c["object"] == "chat.completion.chunk" and c["model"] == "onnx/epicrisis" for c in chunks)
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[0]["alta"]["engine"] == "onnx"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop" and chunks[-1]["alta"]["fallbacks"] == []
    # text already streamed is not taken back: its review comes in the last chunk
    assert chunks[-1]["alta"]["checks"]["reviewed"] is True and chunks[-1]["alta"]["checks"]["ok"] is False
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == whole.json()["choices"][0]["message"]["content"] and len(chunks) > 3
    # a streamed answer counts its tokens too, in the engine's own tokenizer
    engine = OnnxEngine(open_bundle(bundle_dir))
    try:
        assert generated_tokens() - tokens_before == engine.count_tokens(text) > 0
    finally:
        engine.close()


def generated_tokens() -> float:
    from backend.core.metrics import REGISTRY

    return REGISTRY.get_sample_value("alta_generated_tokens_total", {"engine": "onnx", "task": "epicrisis"}) or 0.0


def test_models_lists_tasks_and_engine_models_that_chat(api, auth):
    response = api.get("/v1/models", headers=auth)
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "list"
    # the template engine answers the prompt contract's record message, so it is a model too
    assert [m["id"] for m in body["data"]] == ["epicrisis", "onnx/epicrisis", "template/epicrisis"]
    assert all(m["object"] == "model" and m["owned_by"] == "alta" for m in body["data"])


def error_of(response, status: int) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error


def test_errors_have_openai_shape_and_repeat_nothing_sent(api, auth, make_key, messages):
    assert error_of(api.post(CHAT, json={"model": "epicrisis", "messages": messages}), 401)["type"] == \
        "authentication_error"
    reader = make_key("reader", ("read",))
    forbidden = error_of(api.post(CHAT, headers=reader, json={"model": "epicrisis", "messages": messages}), 403)
    assert forbidden["type"] == "permission_error" and "generate" in forbidden["message"]
    assert error_of(api.get("/v1/models", headers=reader), 403)["type"] == "permission_error"

    for model in ("gpt-4o-María", "template/translation", "translation", "onnx/translation"):
        missing = error_of(api.post(CHAT, headers=auth, json={"model": model, "messages": messages}), 404)
        assert missing["code"] == "model_not_found" and missing["type"] == "not_found_error"
        assert model not in missing["message"] and "epicrisis, onnx/epicrisis" in missing["message"]

    planted = [{"role": "tool", "content": "María José Pérez Soto, RUT 7.654.321-6"}]
    cases = [({"temperature": 3}, "temperature"), ({"tools": []}, "tools"), ({"n": 2}, "n"),
             ({"messages": []}, "messages"), ({"messages": planted}, "messages.0.role"),
             ({"top_p": 0}, "top_p"), ({"max_tokens": 0}, "max_tokens")]
    for change, param in cases:
        body = {"model": "epicrisis", "messages": messages, **change}
        error = error_of(api.post(CHAT, headers=auth, json=body), 422)
        assert error["param"] == param and error["type"] == "invalid_request_error", (change, error)
        assert "María" not in json.dumps(error) and "7.654.321" not in json.dumps(error)

    huge = {"model": "epicrisis", "messages": [{"role": "user", "content": "x" * (api.app.state.settings.max_body_bytes + 1)}]}
    too_big = error_of(api.post(CHAT, headers=auth, json=huge), 413)
    assert too_big["code"] == "request_too_large" and "ALTA_MAX_BODY_BYTES" in too_big["message"]


class ChatDown(Engine):
    name, model, model_version, tasks = "down", "down-model", "1", ("epicrisis",)

    async def health(self) -> EngineHealth:
        return EngineHealth(False, "GPU host unreachable")

    async def complete(self, messages, task, params=None) -> Completion:
        raise AssertionError("an unhealthy engine is not asked")


class BreaksMidStream(ChatDown):
    name = "broken"

    async def health(self) -> EngineHealth:
        return EngineHealth(True, "ok")

    async def stream_complete(self, messages, task, params=None) -> AsyncIterator[str]:
        yield "IDENTIFICACIÓN"
        raise MalformedAnswer("the stream closed before [DONE]")


def test_engines_passed_over_are_named_in_the_answer(api, auth, messages):
    onnx = api.app.state.engines.get("onnx")
    api.app.state.engines = EngineRegistry([ChatDown(), onnx])  # onnx last: its answer is kept with its review
    body = {"model": "epicrisis", "messages": messages, "max_tokens": 4}
    response = api.post(CHAT, headers=auth, json=body)
    assert response.headers["x-alta-engine"] == "onnx"
    assert response.json()["alta"]["fallbacks"] == [{"engine": "down", "reason": "unhealthy: GPU host unreachable"}]
    streamed = api.post(CHAT, headers=auth, json={**body, "stream": True})
    last = json.loads(sse_data(streamed.text)[-2])
    assert streamed.headers["x-alta-engine"] == "onnx"
    assert last["alta"]["fallbacks"] == [{"engine": "down", "reason": "unhealthy: GPU host unreachable"}]


def test_no_engine_is_a_503_with_retry_after_streamed_or_not(api, auth, messages):
    api.app.state.engines = EngineRegistry([ChatDown()])
    for stream in (False, True):
        response = api.post(CHAT, headers=auth, json={"model": "epicrisis", "messages": messages, "stream": stream})
        error = error_of(response, 503)
        assert response.headers["retry-after"] == "5" and error["code"] == "no_engine_available"
        assert "down: unhealthy: GPU host unreachable" in error["message"]


def test_a_stream_broken_mid_text_ends_with_an_error_not_another_engine(api, auth, messages):
    onnx = api.app.state.engines.get("onnx")
    api.app.state.engines = EngineRegistry([BreaksMidStream(), onnx])
    response = api.post(CHAT, headers=auth, json={"model": "epicrisis", "messages": messages, "stream": True})
    data = sse_data(response.text)
    assert "[DONE]" not in data
    assert json.loads(data[1])["choices"][0]["delta"] == {"content": "IDENTIFICACIÓN"}
    error = json.loads(data[-1])["error"]
    assert error["code"] == "stream_broken" and "broken failed after part of the text was sent: malformed" in \
        error["message"]
    assert len(data) == 3  # role chunk, the text, the error: onnx never started
