"""Onefile's rate limit as the sandbox enforces it: a sliding-window log.

"At most ``limit`` accepted calls whose arrival lies in any ``window_s``-second window":
two arrivals share a window when they are less than ``window_s`` apart, so a call arriving at
``t`` is accepted when fewer than ``limit`` accepted calls arrived in ``(t - window_s, t]``.
The log keeps only accepted arrivals (rejected calls consume no quota), so it never holds more
than ``limit`` timestamps and each call costs O(1) amortised.

A hand-written log rather than a limiter library because the sandbox must be *exact* (it is
the referee that tells whether the worker ever exceeded the limit) and must report the most
calls ever accepted inside one window, which no library exposes.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable


class SlidingWindow:
    """Counts accepted arrivals; answers whether one more fits, and when one will."""

    def __init__(
        self, limit: int, window_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        if window_s <= 0:
            raise ValueError("window_s must be positive")
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._arrivals: deque[float] = deque()
        self.max_in_window = 0

    def try_acquire(self) -> float | None:
        """Accept a call arriving now and return None, or return seconds until one fits."""
        now = self._clock()
        arrivals = self._arrivals
        horizon = now - self.window_s
        while arrivals and arrivals[0] <= horizon:
            arrivals.popleft()
        if len(arrivals) >= self.limit:
            return arrivals[0] - horizon
        arrivals.append(now)
        # Any window's count peaks at some accepted arrival, when the log holds exactly the
        # calls of the window ending there: so the peak log length is the run's maximum.
        self.max_in_window = max(self.max_in_window, len(arrivals))
        return None

    @staticmethod
    def retry_after_header(wait_s: float) -> str:
        """Whole seconds, rounded up, and never 0 (a slot frees strictly later)."""
        return str(max(1, math.ceil(wait_s)))

    def in_window(self) -> int:
        """Accepted calls whose arrival lies in the window ending now."""
        horizon = self._clock() - self.window_s
        return sum(1 for t in self._arrivals if t > horizon)

    def reset(self) -> None:
        self._arrivals.clear()
        self.max_in_window = 0
