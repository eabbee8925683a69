"""Never more than N Onefile calls in any window, as Onefile counts them: at arrival.

Onefile counts a call when it *arrives*, but a client only knows when it *admitted* a call
and when the answer came back. Arrival lies somewhere between the two. A limiter that
records admission times (the moving windows of ``limits`` and ``pyrate-limiter``) can let
Onefile see N+1 arrivals in one window: an early call that was slow to arrive and a later
call that arrived at once land in the same server-side window although their admissions
were a window apart. aiolimiter is a leaky bucket, which by design lets a burst through at
the end of one window and another at the start of the next: up to twice the limit in some
60-second window. Neither can be made exact from the outside, so this module keeps its own
log (a few dozen lines, no shared backend: the work queue has a single active consumer).

The rule (:class:`SlidingWindowLog`): each admitted call holds a slot from admission until
its response (or failure) returns, and the slot then stays taken for ``window_s`` after that
completion. A call is admitted only while fewer than N slots are held or unexpired.

Why that is exact: take any server window ``[t, t + W)`` and, of the calls arriving in it,
the one admitted last, at ``s``. Every other call ``j`` of them was admitted at or before
``s`` and completed at ``c_j >= arrival_j >= t``. At ``s`` its slot was either still held
(``c_j >= s``) or completed but unexpired, since ``c_j + W >= t + W > arrival_last >= s``.
So when the last one was admitted the others took ``n - 1`` slots, hence ``n - 1 < N``.

:class:`SlidingWindowLimiter` waits on the log without polling (one timer for the next
expiry, wake-ups on completion), admits waiters first come first served, records each wait
in ``RATE_LIMIT_WAIT_SECONDS`` and can be paused after a 429 with :meth:`block_until`.
:class:`RateLimitedTransport` puts it under httpx, so authentication calls and retries
count too.
"""

from __future__ import annotations

import asyncio
import heapq
import math
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

import httpx
import structlog

from worker.metrics import RATE_LIMIT_WAIT_SECONDS

__all__ = ["CallJournal", "RateLimitedTransport", "SlidingWindowLimiter", "SlidingWindowLog"]

log = structlog.get_logger(__name__)

Clock = Callable[[], float]


class SlidingWindowLog:
    """The bookkeeping of the limit, with time passed in: pure and synchronous."""

    def __init__(self, limit: int, window_s: float) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        if window_s <= 0:
            raise ValueError("window_s must be positive")
        self.limit = limit
        self.window_s = window_s
        self.held = 0
        self._expiries: list[float] = []  # heap of completion + window_s
        self.blocked_until = -math.inf

    def in_use(self, now: float) -> int:
        """Slots held by calls in flight plus slots of completed calls not yet expired."""
        while self._expiries and self._expiries[0] <= now:
            heapq.heappop(self._expiries)
        return self.held + len(self._expiries)

    def try_admit(self, now: float) -> bool:
        """Take a slot if one is free and no pause is in force."""
        if now < self.blocked_until or self.in_use(now) >= self.limit:
            return False
        self.held += 1
        return True

    def complete(self, now: float) -> None:
        """A call's response (or failure) came back: its slot expires ``window_s`` later."""
        self._release_hold()
        heapq.heappush(self._expiries, now + self.window_s)

    def seed(self, expiries: list[float]) -> None:
        """Count calls made before this log existed (by an earlier process) until they expire."""
        for expiry in expiries:
            heapq.heappush(self._expiries, expiry)

    def abandon(self) -> None:
        """Hand back a slot whose call was never sent (cancelled right after admission)."""
        self._release_hold()

    def block_until(self, until: float) -> None:
        """Admit nothing before ``until`` (pauses only ever get longer)."""
        self.blocked_until = max(self.blocked_until, until)

    def next_change(self, now: float) -> float | None:
        """Seconds until a refused call could be admitted; None when only a completion can."""
        if now < self.blocked_until:
            return self.blocked_until - now
        if self.in_use(now) < self.limit:
            return 0.0
        if self._expiries:
            return self._expiries[0] - now
        return None

    def _release_hold(self) -> None:
        if self.held <= 0:
            raise RuntimeError("released a rate-limit slot that was not held")
        self.held -= 1


class SlidingWindowLimiter:
    """Asyncio waiting on a :class:`SlidingWindowLog`, first come first served."""

    def __init__(self, limit: int, window_s: float = 60.0, *,
                 clock: Clock = time.monotonic) -> None:
        self._log = SlidingWindowLog(limit, window_s)
        self._clock = clock
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._timer: asyncio.TimerHandle | None = None

    @property
    def limit(self) -> int:
        return self._log.limit

    @property
    def window_s(self) -> float:
        return self._log.window_s

    def in_use(self) -> int:
        """Slots held or not yet expired right now."""
        return self._log.in_use(self._clock())

    async def acquire(self) -> None:
        """Wait for a slot and take it; pair with :meth:`release` once the call returns."""
        started = self._clock()
        if not self._waiters and self._log.try_admit(started):
            RATE_LIMIT_WAIT_SECONDS.observe(0.0)
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._dispatch()
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._log.abandon()  # admitted, but the caller is gone before sending
                self._dispatch()
            raise
        RATE_LIMIT_WAIT_SECONDS.observe(max(0.0, self._clock() - started))

    def release(self) -> None:
        """The admitted call completed (answered, failed or cancelled) now."""
        self._log.complete(self._clock())
        self._dispatch()

    def seed_calls(self, wall_times: list[float], margin_s: float = 2.0) -> None:
        """Count calls an earlier process admitted at these Unix times (from a
        :class:`CallJournal`) as if each completed ``margin_s`` after admission: Onefile
        still counts them, so a restart or a standby taking over must not spend them again."""
        now_wall, now = time.time(), self._clock()
        self._log.seed([now - (now_wall - t) + margin_s + self.window_s for t in wall_times])
        self._dispatch()

    def block_until(self, until: float) -> None:
        """Admit nothing before ``until`` on this limiter's clock (after a 429)."""
        self._log.block_until(until)
        self._dispatch()

    def block_for(self, seconds: float) -> None:
        """Admit nothing for the next ``seconds``."""
        self.block_until(self._clock() + seconds)

    def close(self) -> None:
        """Drop the pending timer (waiters, if any, are left to their own cancellation)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _dispatch(self) -> None:
        now = self._clock()
        while self._waiters:
            head = self._waiters[0]
            if head.done():  # cancelled while waiting
                self._waiters.popleft()
                continue
            if not self._log.try_admit(now):
                break
            self._waiters.popleft()
            head.set_result(None)
        self.close()
        if self._waiters:
            delay = self._log.next_change(now)
            if delay is not None:
                self._timer = asyncio.get_running_loop().call_later(delay, self._dispatch)


class CallJournal(Protocol):
    """Durable record of admitted calls, shared by the processes using one customer token."""

    async def record_call(self, wall_time: float) -> None: ...

    async def calls_since(self, wall_time: float) -> list[float]: ...


class RateLimitedTransport(httpx.AsyncBaseTransport):
    """Holds a limiter slot around every request the inner transport sends.

    With a ``journal``, each admission is recorded before the request leaves, so the
    next process (a restart, or a standby taking over) can seed its limiter with calls
    Onefile still counts. A journal that fails is logged and does not stop the call.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport, limiter: SlidingWindowLimiter,
                 journal: CallJournal | None = None) -> None:
        self._inner = inner
        self.limiter = limiter
        self.journal = journal

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await self.limiter.acquire()
        try:
            if self.journal is not None:
                try:
                    await self.journal.record_call(time.time())
                except Exception as exc:
                    log.warning("could not record a Onefile call in the journal",
                                error=str(exc) or type(exc).__name__)
            return await self._inner.handle_async_request(request)
        finally:
            self.limiter.release()

    async def aclose(self) -> None:
        self.limiter.close()
        await self._inner.aclose()
