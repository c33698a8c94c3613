"""The vLLM engine against recorded vLLM answers served over loopback HTTP (nothing patched).

Every error case also checks that the engine's reason carries no prompt text: the fixtures plant a
patient's name where vLLM would echo the request.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import pytest

from backend.core.config import Settings
from backend.engines.base import EngineBusy, EngineError, EngineUnsupported, GenerationParams
from backend.engines.openai_protocol import MalformedAnswer
from backend.engines.registry import build_registry
from backend.engines.vllm import VllmEngine, VllmTimeout, VllmTimeouts, VllmUnavailable, normalise_base_url
from backend.services.fallback import reason_kind
from tests.fixtures.vllm.replay import ReplayServer, Reply, closed_port_url, sse_events
from tests.support import REPO

PATIENT = "María José Pérez Soto"
MESSAGES = [{"role": "system", "content": "Eres un médico internista."},
            {"role": "user", "content": 'Registro de hospitalización:\n{"patient":{"name":"' + PATIENT + '"}}'}]
STREAM_TEXT = "IDENTIFICACIÓN\nPaciente de 67 años, neumonía (CIE-10: J18.9)."
CHAT = "/v1/chat/completions"


@pytest.fixture
def vllm():
    with ReplayServer() as server:
        yield server


def make_engine(*urls: str, **overrides) -> VllmEngine:
    options = dict(api_key="vllm-secret", timeouts=VllmTimeouts(connect_s=1.0, first_token_s=1.0, total_s=3.0),
                   retries=2, backoff_s=0.01, breaker_failures=3, breaker_cooldown_s=30.0, health_ttl_s=0.0)
    return VllmEngine(list(urls), {"epicrisis": "epicrisis", "translation": "translation"}, **{**options, **overrides})


async def collect(engine: VllmEngine, task: str = "epicrisis", into: list[str] | None = None) -> list[str]:
    chunks = [] if into is None else into
    async for chunk in engine.stream_complete(MESSAGES, task):
        chunks.append(chunk)
    return chunks


def failure(coro) -> EngineError:
    """The EngineError ``coro`` raises, checked to hold no prompt text."""
    with pytest.raises(EngineError) as info:
        asyncio.run(coro)
    assert PATIENT not in str(info.value) and "María" not in str(info.value)
    return info.value


# --- answers --------------------------------------------------------------------------------


def test_complete_picks_the_adapter_by_model_and_reads_the_answer(vllm):
    engine = make_engine(vllm.url)

    async def scenario():
        assert (await engine.health()).healthy
        params = GenerationParams(max_new_tokens=64, temperature=0.3, top_p=0.9, seed=7)
        return await engine.complete(MESSAGES, "epicrisis", params), await engine.complete(MESSAGES, "translation")

    epicrisis, translation = asyncio.run(scenario())
    assert epicrisis.text == STREAM_TEXT
    assert (epicrisis.engine, epicrisis.model, epicrisis.model_version) == ("vllm", "epicrisis", "/adapters/epicrisis-2026-11")
    assert (epicrisis.finish_reason, epicrisis.prompt_tokens, epicrisis.completion_tokens) == ("stop", 812, 10)
    first, second = vllm.chats()
    assert first.body == {"model": "epicrisis", "messages": MESSAGES, "max_tokens": 64, "temperature": 0.3,
                          "top_p": 0.9, "seed": 7, "stream": True, "stream_options": {"include_usage": True}}
    assert first.headers["Authorization"] == "Bearer vllm-secret"
    assert second.body["model"] == "translation" and second.body["max_tokens"] == 1536
    assert second.body["temperature"] == 0.0 and "seed" not in second.body
    assert translation.model == "translation"


def test_stream_yields_the_deltas_and_asks_for_usage(vllm):
    vllm.script(CHAT, Reply.stream())
    chunks = asyncio.run(collect(make_engine(vllm.url)))
    assert "".join(chunks) == STREAM_TEXT and len(chunks) == 10
    body = vllm.chats()[0].body
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


def test_health_probes_once_per_ttl_and_knows_what_is_served(vllm):
    engine = make_engine(vllm.url, health_ttl_s=60.0)

    async def scenario():
        return [await engine.health() for _ in range(3)]

    healths = asyncio.run(scenario())
    assert all(h.healthy for h in healths) and healths[0].detail == "1/1 vLLM servers up"
    assert [s.path for s in vllm.seen] == ["/health", "/v1/models"]  # one probe for three callers


def test_a_model_no_server_serves_is_unsupported_without_a_request(vllm):
    vllm.script("/v1/models", Reply(body=b'{"object":"list","data":[{"id":"epicrisis","root":"/a/e"}]}'))
    engine = make_engine(vllm.url)

    async def scenario():
        health = await engine.health()
        assert health.healthy and health.detail.endswith("not served: translation")
        await engine.complete(MESSAGES, "translation")

    error = failure(scenario())
    assert isinstance(error, EngineUnsupported) and "translation" in str(error) and "--lora-modules" in str(error)
    assert vllm.chats() == []


def test_api_key_refused_by_the_server_makes_health_say_so(vllm):
    vllm.script("/v1/models", Reply(401, b'{"error":{"message":"Unauthorized","type":"Unauthorized","code":401}}'))
    health = asyncio.run(make_engine(vllm.url).health())
    assert not health.healthy and "ALTA_VLLM_API_KEY" in health.detail


# --- error answers --------------------------------------------------------------------------


def test_500_is_an_error_that_does_not_quote_vllm(vllm):
    vllm.script(CHAT, Reply.json_file("error_500.json", 500))
    error = failure(make_engine(vllm.url).complete(MESSAGES, "epicrisis"))
    assert type(error) is EngineError and reason_kind(error) == "error"
    assert "answered HTTP 500 InternalServerError" in str(error)
    assert len(vllm.chats()) == 1  # the server may have started: never sent twice


def test_400_names_the_context_limit_and_never_echoes_the_input(vllm):
    engine = make_engine(vllm.url)
    vllm.script(CHAT, Reply.json_file("error_400_context_length.json", 400))
    error = failure(engine.complete(MESSAGES, "epicrisis"))
    assert "HTTP 400 BadRequestError (the prompt plus max_tokens exceed the model's 4096-token context)" in str(error)
    vllm.script(CHAT, Reply.json_file("error_400_validation.json", 400))
    error = failure(engine.complete(MESSAGES, "epicrisis"))
    assert str(error).endswith("answered HTTP 400 BadRequestError") and "7.654.321" not in str(error)
    assert engine.servers[0].breaker.failures == 0  # a refused request says nothing bad about the server
    assert len(vllm.chats()) == 2


def test_404_for_the_model_is_unsupported(vllm):
    vllm.script(CHAT, Reply.json_file("error_404_model.json", 404))  # vLLM's newer {"error": {...}} shape
    error = failure(make_engine(vllm.url).complete(MESSAGES, "epicrisis"))
    assert isinstance(error, EngineUnsupported) and "NotFoundError (model not served)" in str(error)


def test_503_is_retried_and_then_busy(vllm):
    engine = make_engine(vllm.url)
    vllm.script(CHAT, Reply.json_file("error_503.json", 503), Reply.stream())
    assert asyncio.run(engine.complete(MESSAGES, "epicrisis")).text == STREAM_TEXT
    assert len(vllm.chats()) == 2
    vllm.reset()
    vllm.script(CHAT, Reply.json_file("error_503.json", 503))
    engine = make_engine(vllm.url, breaker_failures=10)
    error = failure(engine.complete(MESSAGES, "epicrisis"))
    assert isinstance(error, EngineBusy) and "ServiceUnavailableError" in str(error)
    assert len(vllm.chats()) == 3  # the first try and two retries


def test_error_event_mid_stream_is_an_error_after_the_text_sent(vllm):
    vllm.script(CHAT, Reply.stream("chat_completion_stream_error.sse"))
    chunks: list[str] = []
    error = failure(collect(make_engine(vllm.url), into=chunks))
    assert chunks == ["IDENT", "IFICACIÓN"]
    assert "server reported an error mid-stream: InternalServerError" in str(error)


# --- timeouts, dead servers, broken streams, garbage -----------------------------------------


def test_hang_before_the_first_token_times_out(vllm):
    vllm.script(CHAT, Reply.hang(30))
    engine = make_engine(vllm.url, timeouts=VllmTimeouts(connect_s=1.0, first_token_s=0.5, total_s=10.0))
    started = time.monotonic()
    error = failure(collect(engine))
    assert isinstance(error, VllmTimeout) and reason_kind(error) == "timeout"
    assert "no first token within 0.5 s" in str(error) and time.monotonic() - started < 2.0
    assert len(vllm.chats()) == 1


def test_a_whole_answer_is_read_as_a_stream_so_a_hang_costs_the_first_token_timeout(vllm):
    timeouts = VllmTimeouts(connect_s=1.0, first_token_s=0.5, total_s=60.0)
    vllm.script(CHAT, Reply.hang(30))
    started = time.monotonic()
    error = failure(make_engine(vllm.url, timeouts=timeouts).complete(MESSAGES, "epicrisis"))
    assert isinstance(error, VllmTimeout) and time.monotonic() - started < 1.5


def test_a_stream_that_stops_after_its_start_hits_the_total_timeout(vllm):
    timeouts = VllmTimeouts(connect_s=1.0, first_token_s=0.5, total_s=1.0)
    vllm.script(CHAT, Reply(pieces=sse_events("chat_completion_stream.sse")[:3], hang_s=30,
                            content_type="text/event-stream"))
    chunks: list[str] = []
    started = time.monotonic()
    error = failure(collect(make_engine(vllm.url, timeouts=timeouts), into=chunks))
    assert chunks == ["IDENT", "IFIC"] and "longer than 1 s" in str(error) and time.monotonic() - started < 2.0


def test_finish_reason_length_and_a_server_that_ignores_stream(vllm):
    cut_short = [e.replace(b'"finish_reason":"stop"', b'"finish_reason":"length"')
                 for e in sse_events("chat_completion_stream.sse")]
    vllm.script(CHAT, Reply(pieces=cut_short, content_type="text/event-stream"))
    assert asyncio.run(make_engine(vllm.url).complete(MESSAGES, "epicrisis")).finish_reason == "length"
    vllm.script(CHAT, Reply.json_file("chat_completion.json"))  # a whole JSON answer to a streamed request
    error = failure(make_engine(vllm.url).complete(MESSAGES, "epicrisis"))
    assert isinstance(error, MalformedAnswer) and "not server-sent events (content-type application/json)" in str(error)


def test_connection_refused_is_retried_then_unhealthy_and_opens_the_breaker():
    engine = make_engine(closed_port_url())
    started = time.monotonic()
    error = failure(engine.complete(MESSAGES, "epicrisis"))
    assert isinstance(error, VllmUnavailable) and reason_kind(error) == "unhealthy"
    assert "connection refused" in str(error) and time.monotonic() - started < 1.0
    assert engine.servers[0].breaker.state == "open"  # three refused tries in a row
    error = failure(engine.complete(MESSAGES, "epicrisis"))
    assert "circuit open" in str(error)


def test_stream_cut_mid_way_is_malformed(vllm):
    events = sse_events("chat_completion_stream.sse")
    vllm.script(CHAT, Reply(pieces=events[:4], cut=True, content_type="text/event-stream"))
    chunks: list[str] = []
    error = failure(collect(make_engine(vllm.url), into=chunks))
    assert chunks == ["IDENT", "IFIC", "ACIÓN"]
    assert isinstance(error, MalformedAnswer) and reason_kind(error) == "malformed"
    vllm.script(CHAT, Reply(pieces=events[:-1], content_type="text/event-stream"))  # a clean end without [DONE]
    error = failure(collect(make_engine(vllm.url)))
    assert isinstance(error, MalformedAnswer) and "closed before [DONE]" in str(error)


@pytest.mark.parametrize("reply", [
    Reply(raw=b"\x00\xffSSH-2.0-OpenSSH_9.6\r\n\x8b\x1f"),  # not HTTP at all
    Reply(pieces=[b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\n\n"], content_type="text/event-stream"),
    Reply(pieces=[b"data: {not json\n\n"], content_type="text/event-stream"),
    Reply(pieces=[b'data: {"id":"x","object":"chat.completion.chunk"}\n\n'], content_type="text/event-stream"),
    Reply(body=b"<html><body>502 Bad Gateway</body></html>", content_type="text/html"),
], ids=["not-http", "binary", "bad-json", "no-choices", "html"])
def test_garbage_is_malformed_at_once(vllm, reply):
    vllm.script(CHAT, reply)
    engine = make_engine(vllm.url, timeouts=VllmTimeouts(connect_s=1.0, first_token_s=5.0, total_s=10.0))
    started = time.monotonic()
    error = failure(collect(engine))
    assert isinstance(error, MalformedAnswer) and time.monotonic() - started < 1.5  # not after the timeout
    vllm.script(CHAT, Reply(body=b"\x00\x01 not json", content_type="application/json"))
    assert isinstance(failure(engine.complete(MESSAGES, "epicrisis")), MalformedAnswer)


def test_a_consumer_that_leaves_early_frees_the_request(vllm):
    vllm.script(CHAT, Reply.stream(piece_delay_s=0.05))
    engine = make_engine(vllm.url)

    async def scenario():
        stream = engine.stream_complete(MESSAGES, "epicrisis")
        assert await anext(stream) == "IDENT"
        await stream.aclose()

    asyncio.run(scenario())
    server = engine.servers[0]
    assert server.in_flight == 0 and server.breaker.failures == 0 and server.breaker.state == "closed"


# --- the circuit breaker and several servers -------------------------------------------------


def test_breaker_opens_after_consecutive_failures_and_closes_after_a_good_trial(vllm):
    now = [1000.0]
    engine = make_engine(vllm.url, clock=lambda: now[0], breaker_failures=3, breaker_cooldown_s=30.0)
    breaker = engine.servers[0].breaker
    vllm.script(CHAT, Reply.json_file("error_500.json", 500))
    for _ in range(3):
        failure(engine.complete(MESSAGES, "epicrisis"))
    assert breaker.state == "open" and len(vllm.chats()) == 3
    error = failure(engine.complete(MESSAGES, "epicrisis"))  # open: nothing is sent
    assert isinstance(error, VllmUnavailable) and "circuit open, next try in 30 s" in str(error)
    health = asyncio.run(engine.health())
    assert not health.healthy and "circuit open after 3 failures" in health.detail
    assert len(vllm.chats()) == 3 and [s.path for s in vllm.seen].count("/health") == 0

    now[0] += 30  # half-open: one trial; it fails, so the circuit opens for another cool-down
    assert breaker.state == "half-open"
    failure(engine.complete(MESSAGES, "epicrisis"))
    assert breaker.state == "open" and len(vllm.chats()) == 4

    now[0] += 30
    vllm.script(CHAT, Reply.stream())
    assert asyncio.run(engine.complete(MESSAGES, "epicrisis")).text == STREAM_TEXT
    assert breaker.state == "closed" and breaker.failures == 0


def test_probes_never_close_a_circuit_but_let_the_trial_request_through(vllm):
    now = [0.0]
    engine = make_engine(vllm.url, clock=lambda: now[0], breaker_failures=1, breaker_cooldown_s=10.0)
    breaker = engine.servers[0].breaker
    vllm.script(CHAT, Reply.hang(30))  # /health answers, generation hangs
    timeouts = VllmTimeouts(connect_s=1.0, first_token_s=0.3, total_s=5.0)
    engine.timeouts = timeouts
    failure(engine.complete(MESSAGES, "epicrisis"))
    assert breaker.state == "open" and not asyncio.run(engine.health()).healthy
    now[0] += 10
    assert asyncio.run(engine.health()).healthy and breaker.state == "half-open"  # usable for one trial
    failure(engine.complete(MESSAGES, "epicrisis"))  # the trial hangs too: open again, without waiting 3 failures
    assert breaker.state == "open" and len(vllm.chats()) == 2
    now[0] += 10
    vllm.script(CHAT, Reply.stream())
    assert asyncio.run(engine.health()).healthy and breaker.state == "half-open"
    assert asyncio.run(engine.complete(MESSAGES, "epicrisis")).text == STREAM_TEXT
    assert breaker.state == "closed"


def test_a_dead_server_beside_a_live_one_costs_no_request(vllm):
    dead = closed_port_url()
    engine = make_engine(dead, vllm.url)

    async def scenario():
        return [await engine.complete(MESSAGES, "epicrisis") for _ in range(6)], await engine.health()

    completions, health = asyncio.run(scenario())
    assert [c.text for c in completions] == [STREAM_TEXT] * 6
    assert len(vllm.chats()) == 6
    assert engine.servers[0].breaker.state == "open"
    assert health.healthy and health.detail == "1/2 vLLM servers up"


def test_requests_are_spread_over_the_servers():
    with ReplayServer() as one, ReplayServer() as two:
        for server in (one, two):
            server.script(CHAT, Reply.stream(piece_delay_s=0.01))
        engine = make_engine(one.url, two.url)

        async def scenario():
            await asyncio.gather(*(collect(engine) for _ in range(4)))  # least in flight: two each
            for _ in range(4):  # one at a time: in turn
                await collect(engine)

        asyncio.run(scenario())
        assert (len(one.chats()), len(two.chats())) == (4, 4)


# --- configuration --------------------------------------------------------------------------


def test_base_urls_are_normalised_and_checked():
    assert normalise_base_url("http://gpu-1:8000/v1/") == "http://gpu-1:8000"
    assert normalise_base_url("https://gpu-1.hospital.local") == "https://gpu-1.hospital.local"
    with pytest.raises(ValueError, match="must be http"):
        normalise_base_url("gpu-1:8000")
    with pytest.raises(ValueError, match="ALTA_VLLM_API_KEY"):
        normalise_base_url("http://user:pw@gpu-1:8000")


def test_registry_builds_the_engine_from_settings(monkeypatch, tmp_path):
    monkeypatch.setenv("ALTA_VLLM_BASE_URLS", '["http://gpu-1:8000/v1", "http://gpu-2:8000"]')
    monkeypatch.setenv("ALTA_VLLM_MODELS", '{"epicrisis": "epi-v3"}')
    monkeypatch.setenv("ALTA_VLLM_API_KEY", "k")
    registry = build_registry(["vllm", "template"], Settings(environment="test", data_dir=tmp_path))
    engine = registry.get("vllm")
    assert [s.url for s in engine.servers] == ["http://gpu-1:8000", "http://gpu-2:8000"]
    assert engine.tasks == ("epicrisis",) and engine.model == "epi-v3"
    assert [e.name for e in registry.for_task("translation")] == []
    monkeypatch.delenv("ALTA_VLLM_BASE_URLS")
    with pytest.raises(ValueError, match="ALTA_VLLM_BASE_URLS"):
        build_registry(["vllm"], Settings(environment="test", data_dir=tmp_path))


def test_engine_module_needs_no_vllm_and_no_torch():
    code = ("import sys, backend.engines.vllm; "
            "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'vllm', 'transformers', 'openai'}); "
            "print(heavy); sys.exit(1 if heavy else 0)")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
