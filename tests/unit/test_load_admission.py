"""Admission control on its own: the bounded queue (FIFO, full, timeout, cancellation) and the
per-key token bucket, on a real event loop with a fake clock where time matters."""

from __future__ import annotations

import asyncio

import pytest

from backend.services.admission import (
    AdmissionControl,
    GenerationQueue,
    Overloaded,
    RateLimited,
    RateLimiter,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_queue_serves_in_order_and_refuses_past_its_bound() -> None:
    async def scenario() -> None:
        queue = GenerationQueue(max_inflight=2, max_queued=2, timeout_s=5)
        await queue.acquire()
        await queue.acquire()
        assert (queue.inflight, queue.queued) == (2, 0)
        served: list[str] = []

        async def wait(name: str) -> None:
            await queue.acquire()
            served.append(name)

        first, second = asyncio.create_task(wait("first")), asyncio.create_task(wait("second"))
        await _settle()
        assert queue.queued == 2 and served == []
        with pytest.raises(Overloaded) as full:
            await queue.acquire()
        assert full.value.status_code == 503 and full.value.code == "overloaded"
        assert 1 <= full.value.retry_after_s <= 60
        queue.release(0.1)
        await first
        assert served == ["first"] and queue.inflight == 2  # the slot changed hands
        queue.release(0.1)
        await second
        assert served == ["first", "second"]
        for _ in range(2):
            queue.release(0.1)
        assert (queue.inflight, queue.queued) == (0, 0)

    asyncio.run(scenario())


def test_a_wait_past_the_timeout_is_a_503_and_leaves_the_queue() -> None:
    async def scenario() -> None:
        queue = GenerationQueue(max_inflight=1, max_queued=4, timeout_s=0.05)
        await queue.acquire()
        with pytest.raises(Overloaded) as late:
            await queue.acquire()
        assert "ALTA_QUEUE_TIMEOUT_S" in str(late.value)
        assert (queue.inflight, queue.queued) == (1, 0)
        queue.release(0.0)
        await queue.acquire()  # the slot is free again, no ghost waiter took it
        assert queue.inflight == 1

    asyncio.run(scenario())


def test_a_slot_handed_to_a_waiter_that_gave_up_is_passed_on() -> None:
    async def scenario() -> None:
        queue = GenerationQueue(max_inflight=1, max_queued=4, timeout_s=5)
        await queue.acquire()
        quitter = asyncio.create_task(queue.acquire())
        patient = asyncio.create_task(queue.acquire())
        await _settle()
        assert queue.queued == 2
        queue.release(0.0)  # the quitter's future now holds the slot ...
        quitter.cancel()  # ... but the client goes away before it runs
        with pytest.raises(asyncio.CancelledError):
            await quitter
        await asyncio.wait_for(patient, 1)  # the next waiter got the slot instead of it being lost
        assert (queue.inflight, queue.queued) == (1, 0)

    asyncio.run(scenario())


def test_a_cancelled_waiter_leaves_no_trace() -> None:
    async def scenario() -> None:
        queue = GenerationQueue(max_inflight=1, max_queued=1, timeout_s=5)
        await queue.acquire()
        waiter = asyncio.create_task(queue.acquire())
        await _settle()
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert queue.queued == 0
        second = asyncio.create_task(queue.acquire())  # the queue has room again
        await _settle()
        queue.release(0.0)
        await asyncio.wait_for(second, 1)
        assert queue.inflight == 1

    asyncio.run(scenario())


def test_retry_after_grows_with_the_backlog() -> None:
    async def scenario() -> tuple[int, int]:
        queue = GenerationQueue(max_inflight=1, max_queued=8, timeout_s=5)
        await queue.acquire()
        queue.release(4.0)  # slots are held for seconds
        await queue.acquire()
        short = queue.retry_after_s()
        waiters = [asyncio.create_task(queue.acquire()) for _ in range(8)]
        await _settle()
        long = queue.retry_after_s()
        for w in waiters:
            w.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
        return short, long

    short, long = asyncio.run(scenario())
    assert 1 <= short < long <= 60


def test_token_bucket_per_key() -> None:
    clock = Clock()
    limiter = RateLimiter(per_minute=3, clock=clock)
    for _ in range(3):
        limiter.take("ehr-a")
    with pytest.raises(RateLimited) as limited:
        limiter.take("ehr-a")
    assert limited.value.status_code == 429 and limited.value.retry_after_s == 20  # one token every 20 s
    assert "ALTA_RATE_LIMIT_PER_MINUTE" in str(limited.value)
    limiter.take("ehr-b")  # another key has its own bucket
    clock.now += 19
    with pytest.raises(RateLimited) as again:
        limiter.take("ehr-a")
    assert again.value.retry_after_s == 1
    clock.now += 1
    limiter.take("ehr-a")
    clock.now += 3600  # a long pause refills to the burst size, not beyond
    for _ in range(3):
        limiter.take("ehr-a")
    with pytest.raises(RateLimited):
        limiter.take("ehr-a")


def test_zero_turns_the_rate_limit_off() -> None:
    limiter = RateLimiter(per_minute=0)
    for _ in range(10_000):
        limiter.take("ehr")


def test_a_request_turned_away_for_overload_keeps_its_token() -> None:
    async def scenario() -> None:
        control = AdmissionControl(max_inflight=1, max_queued=0, queue_timeout_s=1, rate_limit_per_minute=2,
                                   clock=Clock())
        taken = await control.admit("ehr")
        for _ in range(3):
            with pytest.raises(Overloaded):
                await control.admit("ehr")
        control.release(taken)
        await control.admit("ehr")  # the second token was kept through the 503s
        with pytest.raises(RateLimited):
            await control.admit("ehr")

    asyncio.run(scenario())


def test_bad_bounds_are_refused() -> None:
    with pytest.raises(ValueError, match="max_inflight"):
        GenerationQueue(max_inflight=0, max_queued=1, timeout_s=1)
