"""Admission control through the API (real app, real SQLite): 503 when the queue is full, 429 over
a key's rate limit, both with Retry-After in the usual error shape, and nothing stored for them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from backend.app import create_app
from backend.core.config import Settings
from backend.db.models import Document, Generation
from backend.engines.base import EngineHealth
from backend.engines.registry import EngineRegistry
from backend.engines.template import TemplateEngine

EPICRISIS = "/api/v1/epicrisis"


class SlowEngine(TemplateEngine):
    """The template engine, taking ``delay`` seconds per draft as a model would."""

    def __init__(self, delay: float) -> None:
        self.delay = delay

    async def write(self, stay):
        await asyncio.sleep(self.delay)
        return await super().write(stay)


def _app_client(settings: Settings, **limits) -> Iterator[TestClient]:
    with TestClient(create_app(settings.model_copy(update=limits))) as client:
        yield client


@pytest.fixture
def small_queue(settings: Settings) -> Iterator[TestClient]:
    yield from _app_client(settings, max_inflight_generations=1, max_queued_generations=1, queue_timeout_s=20)


@pytest.fixture
def rate_limited(settings: Settings) -> Iterator[TestClient]:
    yield from _app_client(settings, rate_limit_per_minute=2)


def _wait_for(predicate, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting for the queue"
        time.sleep(0.01)


def _stored(sessions) -> tuple[int, int]:
    with sessions() as session:
        return (session.scalar(select(func.count()).select_from(Document)),
                session.scalar(select(func.count()).select_from(Generation)))


def test_a_full_queue_answers_503_with_retry_after(small_queue, auth, record, sessions) -> None:
    client = small_queue
    client.app.state.engines = EngineRegistry([SlowEngine(0.6)])
    queue = client.app.state.admission.queue

    def post() -> int:
        return client.post(EPICRISIS, json={"record": record}, headers=auth).status_code

    with ThreadPoolExecutor(2) as pool:
        running = pool.submit(post)
        _wait_for(lambda: queue.inflight == 1)
        waiting = pool.submit(post)
        _wait_for(lambda: queue.queued == 1)
        for route in (EPICRISIS, f"{EPICRISIS}/stream"):
            refused = client.post(route, json={"record": record}, headers=auth)
            assert refused.status_code == 503, refused.text
            assert refused.json()["code"] == "overloaded" and "Retry-After" in refused.json()["detail"]
            assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert running.result() == 201 and waiting.result() == 201  # the queued one was served, not dropped
    assert (queue.inflight, queue.queued) == (0, 0)
    assert _stored(sessions) == (2, 2)  # one document and one generation per 201, none for the 503s


def test_a_slot_is_released_after_a_stream_and_after_an_error(small_queue, auth, record) -> None:
    client = small_queue
    queue = client.app.state.admission.queue
    seen: list[int] = []

    class Watched(TemplateEngine):
        async def stream_write(self, stay):
            async for chunk in super().stream_write(stay):
                seen.append(queue.inflight)
                yield chunk

    client.app.state.engines = EngineRegistry([Watched()])
    response = client.post(f"{EPICRISIS}/stream", json={"record": record}, headers=auth)
    assert response.status_code == 200 and "event: done" in response.text
    assert len(seen) >= 5 and set(seen) == {1}  # held while the draft streamed ...
    assert queue.inflight == 0  # ... and given back when the stream ended

    class Down(TemplateEngine):
        async def health(self):
            return EngineHealth(False, "not loaded")

    client.app.state.engines = EngineRegistry([Down()])
    for route in (EPICRISIS, f"{EPICRISIS}/stream"):
        failed = client.post(route, json={"record": record}, headers=auth)
        assert failed.status_code == 503 and failed.json()["code"] == "no_engine_available"
        assert queue.inflight == 0  # a request that failed after taking its slot gave it back

    unknown = client.post(EPICRISIS, json={"record": record, "engine": "nope"}, headers=auth)
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["field"] == "engine"
    invalid = client.post(EPICRISIS, json={"record": record | {"diagnoses": []}}, headers=auth)
    assert invalid.status_code == 422 and queue.inflight == 0


def test_rate_limit_per_key_is_a_429_with_retry_after(rate_limited, make_key, record, sessions) -> None:
    client = rate_limited
    greedy, other = make_key("greedy", ("generate",)), make_key("other", ("generate",))
    invalid = {"record": record | {"diagnoses": []}}
    for _ in range(5):  # invalid requests are not generations: they spend no tokens
        assert client.post(EPICRISIS, json=invalid, headers=greedy).status_code == 422
    for _ in range(2):
        assert client.post(EPICRISIS, json={"record": record}, headers=greedy).status_code == 201
    for route in (EPICRISIS, f"{EPICRISIS}/stream"):
        limited = client.post(route, json={"record": record}, headers=greedy)
        assert limited.status_code == 429, limited.text
        assert limited.json()["code"] == "rate_limited" and "ALTA_RATE_LIMIT_PER_MINUTE" in limited.json()["detail"]
        assert 1 <= int(limited.headers["retry-after"]) <= 30  # 2 a minute: a token every 30 s
    assert client.post(EPICRISIS, json={"record": record}, headers=other).status_code == 201  # its own bucket
    assert _stored(sessions) == (3, 3)
