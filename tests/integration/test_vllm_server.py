"""Against a real ``vllm serve`` (marker ``vllm``): the engine works, and the recorded fixtures match.

Start the server with the line ``python -m training vllm-command ...`` prints, then
``ALTA_TEST_VLLM_URL=http://gpu-host:8000 pytest -m vllm tests/integration/test_vllm_server.py``
(``ALTA_TEST_VLLM_API_KEY`` when it was started with ``--api-key``). The unit tests replay the
files in tests/fixtures/vllm/; this checks that vLLM still answers in those shapes.
"""

from __future__ import annotations

import asyncio
import json
import os

import httpx
import pytest

from backend.engines.base import GenerationParams
from backend.engines.vllm import VllmEngine
from tests.fixtures.vllm.replay import fixture, sse_events

pytestmark = pytest.mark.vllm
MESSAGES = [{"role": "system", "content": "Eres un médico internista de un hospital chileno."},
            {"role": "user", "content": "Resume en una frase: neumonía adquirida en la comunidad, J18.9."}]


@pytest.fixture(scope="module")
def url() -> str:
    value = os.environ.get("ALTA_TEST_VLLM_URL")
    if not value:
        pytest.fail("the vllm tests need ALTA_TEST_VLLM_URL, a `vllm serve` started with the command "
                    "`python -m training vllm-command` prints")
    return value.rstrip("/")


@pytest.fixture(scope="module")
def headers() -> dict[str, str]:
    key = os.environ.get("ALTA_TEST_VLLM_API_KEY")
    return {"Authorization": f"Bearer {key}"} if key else {}


def keys(obj: object) -> set[str]:
    """Every key path of a JSON object, lists entered through their first item."""
    out: set[str] = set()

    def walk(value: object, path: str) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                out.add(f"{path}.{k}")
                walk(v, f"{path}.{k}")
        elif isinstance(value, list) and value:
            walk(value[0], path + "[]")

    walk(obj, "")
    return out


def test_models_and_stream_have_the_recorded_shapes(url, headers):
    models = httpx.get(f"{url}/v1/models", headers=headers, timeout=30).json()
    recorded = json.loads(fixture("models.json"))
    assert {".object", ".data[].id", ".data[].root", ".data[].parent"} <= keys(models) & keys(recorded)
    assert {"epicrisis"} <= {m["id"] for m in models["data"]}

    body = {"model": "epicrisis", "messages": MESSAGES, "max_tokens": 8, "temperature": 0, "stream": True,
            "stream_options": {"include_usage": True}}
    with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, headers=headers, timeout=120) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        data = [line.removeprefix("data: ") for line in response.iter_lines() if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    live, recorded_events = [json.loads(d) for d in data[:-1]], [json.loads(e.removeprefix(b"data: "))
                                                                 for e in sse_events("chat_completion_stream.sse")[:-1]]
    assert keys(recorded_events[0]) <= keys(live[0])  # the role chunk
    assert keys(recorded_events[-1]) <= keys(live[-1])  # the usage chunk


def test_an_unknown_model_is_one_of_the_recorded_error_shapes(url, headers):
    answer = httpx.post(f"{url}/v1/chat/completions", headers=headers, timeout=30,
                        json={"model": "no-such-adapter", "messages": MESSAGES})
    assert answer.status_code == 404
    error = answer.json()
    assert {".error.message", ".error.type", ".error.code"} <= keys(error) or \
        {".object", ".message", ".type", ".code"} <= keys(error)


def test_engine_writes_and_streams(url, headers):
    key = headers.get("Authorization", "").removeprefix("Bearer ") or None
    engine = VllmEngine([url], {"epicrisis": "epicrisis"}, api_key=key)

    async def scenario():
        health = await engine.health()
        completion = await engine.complete(MESSAGES, "epicrisis", GenerationParams(max_new_tokens=16))
        chunks = [c async for c in engine.stream_complete(MESSAGES, "epicrisis", GenerationParams(max_new_tokens=16))]
        return health, completion, chunks

    health, completion, chunks = asyncio.run(scenario())
    assert health.healthy, health.detail
    assert completion.text and 0 < completion.completion_tokens <= 16 and completion.model_version != "unreported"
    assert "".join(chunks) and len(chunks) > 1
