"""The sliding-window limiter: N calls in any window as the server counts them, at arrival."""

from __future__ import annotations

import asyncio
import random
import time

import httpx
import pytest
from prometheus_client import REGISTRY

from worker.onefile import RateLimitedTransport, SlidingWindowLimiter, SlidingWindowLog

# The log, with time passed in ---------------------------------------------------------


def test_log_admits_up_to_the_limit_then_refuses() -> None:
    log = SlidingWindowLog(limit=2, window_s=10)
    assert log.try_admit(0.0) and log.try_admit(0.0)
    assert not log.try_admit(0.0)


def test_log_holds_a_slot_while_its_call_is_in_flight_however_long() -> None:
    log = SlidingWindowLog(limit=1, window_s=10)
    assert log.try_admit(0.0)
    assert not log.try_admit(1000.0)
    assert log.next_change(1000.0) is None  # only a completion can free it


def test_log_expires_a_slot_window_after_completion_not_after_admission() -> None:
    log = SlidingWindowLog(limit=1, window_s=10)
    log.try_admit(0.0)
    log.complete(8.0)
    assert not log.try_admit(17.9)
    assert log.next_change(17.9) == pytest.approx(0.1)
    assert log.try_admit(18.0)


def test_log_counts_a_late_arriving_early_call_against_a_later_one() -> None:
    """A admitted at 0 arrives at 9; B admitted at 5 arrives at 5.1: C at 10.1 must wait.

    By admission times the window (0.1, 10.1] holds only B, so an admission-time limiter
    would admit C, and the server would see A, B and C (9, 5.1, 10.1) in one window.
    """
    log = SlidingWindowLog(limit=2, window_s=10)
    assert log.try_admit(0.0)  # A
    assert log.try_admit(5.0)  # B
    log.complete(5.2)  # B answered
    log.complete(9.5)  # A answered
    assert not log.try_admit(10.1)
    assert log.try_admit(15.2)  # B's slot expired; A's still counts until 19.5
    assert not log.try_admit(19.4)


def test_log_abandon_gives_a_never_sent_slot_back_at_once() -> None:
    log = SlidingWindowLog(limit=1, window_s=10)
    log.try_admit(0.0)
    log.abandon()
    assert log.try_admit(0.0)


def test_log_admits_nothing_before_a_block_ends() -> None:
    log = SlidingWindowLog(limit=5, window_s=10)
    log.block_until(3.0)
    log.block_until(1.0)  # a shorter pause never shortens the longer one
    assert not log.try_admit(2.9)
    assert log.next_change(2.0) == pytest.approx(1.0)
    assert log.try_admit(3.0)


def test_log_refuses_to_release_a_slot_it_never_gave() -> None:
    with pytest.raises(RuntimeError):
        SlidingWindowLog(limit=1, window_s=1).complete(0.0)


@pytest.mark.parametrize(("limit", "window_s"), [(0, 1.0), (1, 0.0)])
def test_log_rejects_a_meaningless_configuration(limit: int, window_s: float) -> None:
    with pytest.raises(ValueError):
        SlidingWindowLog(limit=limit, window_s=window_s)


# The limiter, on the event loop -------------------------------------------------------


async def _settle() -> None:
    """Let every ready task run (no timing involved)."""
    for _ in range(5):
        await asyncio.sleep(0)


async def test_limiter_waits_for_a_slot_to_expire_after_release() -> None:
    limiter = SlidingWindowLimiter(1, window_s=0.05)
    await limiter.acquire()
    second = asyncio.create_task(limiter.acquire())
    await _settle()
    assert not second.done()
    limiter.release()
    released = time.monotonic()
    await asyncio.wait_for(second, timeout=5)
    assert time.monotonic() - released >= 0.05


async def test_limiter_admits_waiters_first_come_first_served() -> None:
    limiter = SlidingWindowLimiter(1, window_s=0.01)
    order: list[int] = []

    async def call(n: int) -> None:
        await limiter.acquire()
        order.append(n)
        limiter.release()

    await limiter.acquire()
    tasks = []
    for n in range(5):
        tasks.append(asyncio.create_task(call(n)))
        await _settle()
    limiter.release()
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=5)
    assert order == [0, 1, 2, 3, 4]


async def test_limiter_block_for_delays_every_admission() -> None:
    limiter = SlidingWindowLimiter(100, window_s=60)
    limiter.block_for(0.05)
    started = time.monotonic()
    await asyncio.wait_for(limiter.acquire(), timeout=5)
    assert time.monotonic() - started >= 0.05


async def test_a_cancelled_waiter_takes_no_slot() -> None:
    limiter = SlidingWindowLimiter(1, window_s=0.01)
    await limiter.acquire()
    waiter = asyncio.create_task(limiter.acquire())
    await _settle()
    waiter.cancel()
    await _settle()
    limiter.release()
    await asyncio.wait_for(limiter.acquire(), timeout=5)
    assert limiter.in_use() == 1


async def test_limiter_records_each_wait_in_the_histogram() -> None:
    before = REGISTRY.get_sample_value("onefile_rate_limit_wait_seconds_count") or 0.0
    limiter = SlidingWindowLimiter(1, window_s=0.02)
    await limiter.acquire()
    limiter.release()
    await asyncio.wait_for(limiter.acquire(), timeout=5)
    assert REGISTRY.get_sample_value("onefile_rate_limit_wait_seconds_count") == before + 2
    assert (REGISTRY.get_sample_value("onefile_rate_limit_wait_seconds_sum") or 0) > 0


# The transport: what the server sees -------------------------------------------------


async def test_no_window_at_the_server_sees_more_than_the_limit_despite_random_latency() -> None:
    """Arrival happens a random time after admission; the server still never sees N+1."""
    limit, window_s = 4, 0.1
    rng = random.Random(7)
    arrivals: list[float] = []

    async def server(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(rng.uniform(0, 0.06))  # on the way there
        arrivals.append(time.monotonic())
        await asyncio.sleep(rng.uniform(0, 0.03))  # on the way back
        return httpx.Response(204)

    transport = RateLimitedTransport(httpx.MockTransport(server),
                                     SlidingWindowLimiter(limit, window_s))
    async with httpx.AsyncClient(transport=transport) as http:
        await asyncio.wait_for(
            asyncio.gather(*(http.post("http://onefile.test/x") for _ in range(24))), 30)
    arrivals.sort()
    busiest = max(sum(1 for t in arrivals if start <= t < start + window_s)
                  for start in arrivals)
    assert len(arrivals) == 24
    assert busiest <= limit


async def test_transport_releases_the_slot_when_the_call_fails() -> None:
    def server(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    limiter = SlidingWindowLimiter(1, window_s=0.01)
    transport = RateLimitedTransport(httpx.MockTransport(server), limiter)
    async with httpx.AsyncClient(transport=transport) as http:
        for _ in range(3):
            with pytest.raises(httpx.ConnectError):
                await asyncio.wait_for(http.post("http://onefile.test/x"), 5)
    assert limiter.in_use() <= 1


class MemoryJournal:
    def __init__(self, calls: list[float] | None = None, fail: bool = False) -> None:
        self.calls = list(calls or [])
        self.fail = fail

    async def record_call(self, wall_time: float) -> None:
        if self.fail:
            raise OSError("journal down")
        self.calls.append(wall_time)

    async def calls_since(self, wall_time: float) -> list[float]:
        return [t for t in self.calls if t >= wall_time]


async def test_seeded_calls_of_an_earlier_process_hold_their_slots_until_they_expire() -> None:
    limiter = SlidingWindowLimiter(2, window_s=0.2)
    limiter.seed_calls([time.time(), time.time()], margin_s=0.0)
    assert limiter.in_use() == 2
    waiting = asyncio.create_task(limiter.acquire())
    await _settle()
    assert not waiting.done()  # the earlier process's two calls still count
    await asyncio.wait_for(waiting, timeout=5)


async def test_seeded_calls_older_than_the_window_take_no_slot() -> None:
    limiter = SlidingWindowLimiter(2, window_s=0.2)
    limiter.seed_calls([time.time() - 10], margin_s=0.0)
    assert limiter.in_use() == 0


async def test_the_transport_journals_each_admitted_call_before_sending_it() -> None:
    journal = MemoryJournal()
    sent_after: list[int] = []

    def server(request: httpx.Request) -> httpx.Response:
        sent_after.append(len(journal.calls))
        return httpx.Response(204)

    transport = RateLimitedTransport(httpx.MockTransport(server), SlidingWindowLimiter(5),
                                     journal)
    async with httpx.AsyncClient(transport=transport) as http:
        for _ in range(3):
            await http.post("http://onefile.test/x")
    assert len(journal.calls) == 3 and sent_after == [1, 2, 3]


async def test_a_failing_journal_does_not_stop_the_call() -> None:
    transport = RateLimitedTransport(httpx.MockTransport(lambda r: httpx.Response(204)),
                                     SlidingWindowLimiter(5), MemoryJournal(fail=True))
    async with httpx.AsyncClient(transport=transport) as http:
        assert (await http.post("http://onefile.test/x")).status_code == 204
