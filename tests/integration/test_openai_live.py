"""Over real HTTP, two Alta processes: the OpenAI surface of one (ONNX Runtime on a tiny bundle)
answers the official ``openai`` client, and the vLLM engine of the other, pointed at it, writes
epicrisis drafts through the full API. This is the vLLM engine's integration test without a GPU:
Alta's /v1 speaks the protocol ``vllm serve`` speaks.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from backend.engines.base import GenerationParams
from backend.engines.bundle import open_bundle
from backend.engines.onnx import OnnxEngine
from clinical.contract import epicrisis_messages
from clinical.record import HospitalStay
from devtools import export_testing as testing
from tests.support import LiveServer

NEW_TOKENS = 24


def _key(server: LiveServer, name: str) -> str:
    return server.cli("create-key", "--name", name, "--scopes", "generate", "read").stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def bundle_dir() -> Path:
    return testing.tiny_bundle().out


@pytest.fixture(scope="module")
def alta_onnx(tmp_path_factory, bundle_dir) -> Iterator[tuple[LiveServer, str]]:
    """Alta serving the tiny bundle through its engines, and a key with the generate scope."""
    root = tmp_path_factory.mktemp("alta-onnx")
    models = testing.catalog_dir(root / "models", bundle_dir)
    server = LiveServer(root, {"ALTA_ENGINES": '["onnx"]', "ALTA_MODELS_DIR": str(models),
                               "ALTA_ONNX_MAX_NEW_TOKENS": str(NEW_TOKENS)})
    server.cli("migrate")
    key = _key(server, "ehr-openai")
    server.start()
    yield server, key
    server.stop()


@pytest.fixture(scope="module")
def alta_vllm(tmp_path_factory, alta_onnx) -> Iterator[tuple[LiveServer, str]]:
    """A second Alta whose vLLM engine is pointed at the first one's /v1, the template behind it."""
    upstream, upstream_key = alta_onnx
    server = LiveServer(tmp_path_factory.mktemp("alta-vllm"), {
        "ALTA_ENGINES": '["vllm", "template"]', "ALTA_VLLM_BASE_URLS": json.dumps([upstream.url + "/v1"]),
        "ALTA_VLLM_API_KEY": upstream_key, "ALTA_VLLM_MAX_NEW_TOKENS": str(NEW_TOKENS),
        # Alta's /v1 takes no structured_outputs (its ONNX engine holds epicrisis drafts to the record itself)
        "ALTA_VLLM_CONSTRAIN": "false"})
    server.cli("migrate")
    key = _key(server, "ehr-central")
    server.start()
    yield server, key
    server.stop()


@pytest.fixture(scope="module")
def client(alta_onnx) -> openai.OpenAI:
    server, key = alta_onnx
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0, timeout=60)


@pytest.fixture
def messages(record) -> list[dict[str, str]]:
    return epicrisis_messages(HospitalStay.model_validate(record))


@pytest.fixture(scope="module")
def reference(bundle_dir):
    """What the bundle writes greedily for some messages, in this process, without HTTP (held to the record's
    grammar, as the served engine is by default: ALTA_ONNX_CONSTRAIN)."""
    engine = OnnxEngine(open_bundle(bundle_dir), constrain=True)
    yield lambda messages: asyncio.run(engine.complete(messages, "epicrisis",
                                                       GenerationParams(max_new_tokens=NEW_TOKENS))).text
    engine.close()


def test_openai_client_gets_the_engines_answer(client, messages, reference):
    raw = client.chat.completions.with_raw_response.create(model="epicrisis", messages=messages,
                                                           max_tokens=NEW_TOKENS, temperature=0)
    assert raw.headers["x-alta-engine"] == "onnx"
    completion = raw.parse()
    assert completion.choices[0].message.content == reference(messages)
    assert completion.choices[0].message.role == "assistant" and completion.model == "epicrisis"
    assert 0 < completion.usage.completion_tokens <= NEW_TOKENS
    assert completion.model_extra["alta"]["engine"] == "onnx" and completion.model_extra["alta"]["fallbacks"] == []


def test_openai_client_streams_the_same_text(client, messages, reference):
    stream = client.chat.completions.create(model="epicrisis", messages=messages, max_tokens=NEW_TOKENS,
                                            stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == reference(messages) and len(chunks) > 3
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_openai_client_models_and_errors(client, alta_onnx, messages):
    assert [m.id for m in client.models.list()] == ["epicrisis", "onnx/epicrisis"]
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="gpt-4o", messages=messages)
    assert missing.value.code == "model_not_found"
    with pytest.raises(openai.UnprocessableEntityError) as invalid:
        client.chat.completions.create(model="epicrisis", messages=messages, temperature=5)
    assert invalid.value.param == "temperature"
    server, _key = alta_onnx
    stranger = openai.OpenAI(base_url=f"{server.url}/v1", api_key="alta_not_a_key", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        stranger.models.list()


def test_vllm_engine_of_a_second_alta_writes_the_draft(alta_vllm, record, messages, reference):
    server, key = alta_vllm
    auth = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=server.url, headers=auth, timeout=60) as http:
        listed = {m["engine"]: m for m in http.get("/api/v1/models").json()}
        assert listed["vllm"]["healthy"]  # the first Alta has no translation model, and the detail says so
        assert listed["vllm"]["detail"] == "1/1 vLLM servers up; not served: translation"

        with http.stream("POST", "/api/v1/epicrisis/stream", json={"record": record}) as response:
            assert response.headers["x-alta-engine"] == "vllm"
            body = "".join(response.iter_text())
        events = [(block.split("\n")[0].removeprefix("event: "), json.loads(block.split("\n")[1].removeprefix("data: ")))
                  for block in body.strip().split("\n\n")]
        assert events[0] == ("start", {"engine": "vllm", "model": "epicrisis", "demo": False})
        text = "".join(data["text"] for kind, data in events if kind == "chunk")
        assert text == reference(messages)  # the first Alta's model, through the vLLM protocol, token for token
        # the streamed draft fails the record review: the template's draft replaces it, and says why
        assert [kind for kind, _ in events[-3:]] == ["review", "replaced", "done"]
        done = events[-1][1]
        assert done["provenance"]["engine"] == "template" and done["checks"]["ok"] and done["text"] != text
        assert any(f["engine"] == "vllm" and f["reason"].startswith("checks: ") for f in done["provenance"]["fallbacks"])

        # Not streamed, the tiny model's draft fails the output checks, so the template writes it and says why.
        created = http.post("/api/v1/epicrisis", json={"record": record})
        assert created.status_code == 201, created.text
        provenance = created.json()["provenance"]
        assert provenance["engine"] == "template" and created.json()["checks"]["ok"]
        assert [f["engine"] for f in provenance["fallbacks"]] == ["vllm"]
        assert provenance["fallbacks"][0]["reason"].startswith("checks: draft failed the record review (")
