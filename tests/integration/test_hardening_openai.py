"""/v1/chat/completions never answers 503 for what only the client can change (issue 20):
a prompt longer than the model's context is a 400 ``context_length_exceeded`` without Retry-After,
and a temperature too small to sample with decodes greedily instead of failing on NaN."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from backend.app import create_app
from backend.core.config import Settings
from backend.engines.base import ContextLengthExceeded
from backend.engines.decoding import SamplingParams, pick_token
from backend.engines.vllm import VllmEngine
from backend.engines.vllm_wire import status_error
from devtools import export_testing as testing

CHAT = "/v1/chat/completions"


@pytest.fixture(scope="module")
def bundle_dir() -> Path:
    return testing.tiny_bundle().out


@pytest.fixture
def api(settings: Settings, bundle_dir, tmp_path) -> TestClient:
    models_dir = testing.catalog_dir(tmp_path / "models", bundle_dir)
    app_settings = settings.model_copy(update={"engines": ["onnx", "template"], "models_dir": models_dir})
    with TestClient(create_app(app_settings)) as client:
        yield client


def long_messages(words: int = 6000) -> list[dict[str, str]]:
    return [{"role": "user", "content": "paciente " * words}]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_a_prompt_longer_than_the_context_is_a_400_not_a_503(api, auth, stream):
    response = api.post(CHAT, headers=auth, json={"model": "onnx/epicrisis", "messages": long_messages(),
                                                  "max_tokens": 8, "stream": stream})
    assert response.status_code == 400, response.text
    assert "retry-after" not in response.headers
    error = response.json()["error"]
    assert error["code"] == "context_length_exceeded" and error["type"] == "invalid_request_error"
    assert "paciente" not in response.text  # the prompt is not repeated


def test_the_task_name_gets_the_400_too(api, auth):
    response = api.post(CHAT, headers=auth, json={"model": "epicrisis", "messages": long_messages(),
                                                  "max_tokens": 8})
    assert response.status_code == 400 and response.json()["error"]["code"] == "context_length_exceeded"


@pytest.mark.parametrize("temperature", [1e-308, 5e-324, 1e-6])
def test_a_vanishing_temperature_decodes_greedily(api, auth, temperature):
    messages = [{"role": "user", "content": "Resumen del alta"}]
    body = {"model": "onnx/epicrisis", "messages": messages, "max_tokens": 6}
    greedy = api.post(CHAT, headers=auth, json=body)
    tiny = api.post(CHAT, headers=auth, json={**body, "temperature": temperature, "seed": 1})
    assert tiny.status_code == 200, tiny.text
    assert tiny.json()["choices"][0]["message"]["content"] == greedy.json()["choices"][0]["message"]["content"]


def test_pick_token_never_samples_from_nan():
    logits = np.array([1.0, 3.0, 2.0], np.float32)
    rng = np.random.default_rng(0)
    for temperature in (1e-308, 5e-324, 1e-9):
        assert pick_token(logits, SamplingParams(temperature=temperature), rng) == 1
    assert pick_token(np.array([0.0, np.inf, 1.0]), SamplingParams(temperature=0.7), rng) == 1


def test_vllm_request_sends_greedy_for_a_vanishing_temperature():
    from backend.engines.base import GenerationParams

    engine = VllmEngine(["http://127.0.0.1:9"], {"epicrisis": "epicrisis"})
    body = engine._payload([{"role": "user", "content": "x"}], "epicrisis", GenerationParams(temperature=1e-308))
    assert body["temperature"] == 0.0
    assert engine._payload([], "epicrisis", GenerationParams(temperature=0.7))["temperature"] == 0.7


def test_vllm_context_error_is_a_context_length_verdict():
    engine = VllmEngine(["http://127.0.0.1:9"], {"epicrisis": "epicrisis"})
    raw = (b'{"error": {"message": "This model\'s maximum context length is 4096 tokens. However, you requested '
           b'5000 tokens (paciente ...)", "type": "BadRequestError", "code": 400}}')
    error = status_error(engine.servers[0], 400, raw, "epicrisis")
    assert isinstance(error, ContextLengthExceeded) and error.context == 4096
    assert "paciente" not in str(error)
