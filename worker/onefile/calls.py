"""One logical Onefile call: send, translate, retry what is safe, wait out 429s.

Two tenacity loops, so a 429 is never counted as a failure:

* the outer loop retries :class:`~worker.onefile.policy.Retryable` failures up to
  ``max_attempts`` times with full-jitter exponential backoff (``backoff_base_s`` doubling,
  capped at ``backoff_max_s``), then raises :class:`TransientError` with the last status;
* the inner loop resends after a 429 (``Retry-After`` if given, else exponential backoff
  plus jitter) and pauses the shared limiter as long, until ``max_429_wait_s`` after the
  call started, then raises :class:`TransientError` with ``status_code=429``.

What counts as retryable, ambiguous or rejected is decided in ``policy.py``; an
:class:`AmbiguousError` (an assign that may have been applied) leaves at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import structlog
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
    wait_random_exponential,
)

from worker.errors import AmbiguousError, TransientError
from worker.onefile.instrument import ENDPOINT_EXTENSION
from worker.onefile.policy import (
    RateLimited,
    Retryable,
    classify_exception,
    classify_response,
    stop_at_deadline,
    wait_retry_after_or,
)
from worker.onefile.ratelimit import SlidingWindowLimiter

__all__ = ["Caller"]

log = structlog.get_logger(__name__)


class Caller:
    """Runs calls through an authenticated, rate-limited ``httpx.AsyncClient``."""

    def __init__(self, http: httpx.AsyncClient, limiter: SlidingWindowLimiter, *,
                 max_attempts: int, max_429_wait_s: float, backoff_base_s: float,
                 backoff_max_s: float, redact: Callable[[str], str],
                 clock: Callable[[], float] = time.monotonic) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._http = http
        self._limiter = limiter
        self._max_attempts = max_attempts
        self._max_429_wait_s = max_429_wait_s
        self._backoff_base_s = backoff_base_s
        self._backoff_max_s = backoff_max_s
        self._redact = redact
        self._clock = clock
        self.retries = 0
        self.ambiguous = 0

    async def post(self, endpoint: str, path: str, body: dict[str, Any], *,
                   idempotent: bool) -> httpx.Response:
        """POST ``body`` to ``path``; ``endpoint`` is the template used in labels and errors."""
        deadline = self._clock() + self._max_429_wait_s
        failures = AsyncRetrying(
            retry=retry_if_exception_type(Retryable),
            stop=stop_after_attempt(self._max_attempts),
            wait=wait_random_exponential(multiplier=self._backoff_base_s,
                                         max=self._backoff_max_s),
            before_sleep=self._on_failure(endpoint),
            reraise=True,
        )
        try:
            return await failures(self._send_past_429s, endpoint, path, body, idempotent,
                                  deadline)
        except Retryable as exc:
            raise TransientError(f"Onefile {endpoint} failed {self._max_attempts} times, "
                                 f"last: {exc}", status_code=exc.status_code) from exc
        except RateLimited as exc:
            raise TransientError(f"Onefile {endpoint} still answered 429 after "
                                 f"{self._max_429_wait_s:g}s of waiting", status_code=429,
                                 retry_after_s=exc.retry_after_s) from exc
        except AmbiguousError:
            self.ambiguous += 1
            raise

    async def _send_past_429s(self, endpoint: str, path: str, body: dict[str, Any],
                              idempotent: bool, deadline: float) -> httpx.Response:
        waits = AsyncRetrying(
            retry=retry_if_exception_type(RateLimited),
            stop=stop_at_deadline(deadline, self._clock),
            wait=wait_retry_after_or(
                wait_exponential(multiplier=self._backoff_base_s, max=self._backoff_max_s)
                + wait_random(0, self._backoff_base_s)),
            before_sleep=self._on_429(endpoint),
            reraise=True,
        )
        return await waits(self._send_once, endpoint, path, body, idempotent)

    async def _send_once(self, endpoint: str, path: str, body: dict[str, Any],
                         idempotent: bool) -> httpx.Response:
        request = self._http.build_request("POST", path, json=body,
                                           extensions={ENDPOINT_EXTENSION: endpoint})
        try:
            response = await self._http.send(request)
        except httpx.RequestError as exc:
            raise classify_exception(exc, endpoint, idempotent=idempotent) from exc
        return classify_response(response, endpoint, idempotent=idempotent,
                                 redact=self._redact)

    def _on_failure(self, endpoint: str) -> Callable[[RetryCallState], None]:
        def hook(state: RetryCallState) -> None:
            self.retries += 1
            exc = state.outcome.exception() if state.outcome else None
            log.warning("Onefile call failed; retrying after a backoff", endpoint=endpoint,
                        attempt=state.attempt_number, max_attempts=self._max_attempts,
                        wait_s=round(state.upcoming_sleep, 3), error=str(exc))
        return hook

    def _on_429(self, endpoint: str) -> Callable[[RetryCallState], None]:
        def hook(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            retry_after = exc.retry_after_s if isinstance(exc, RateLimited) else None
            self._limiter.block_for(state.upcoming_sleep)
            log.warning("Onefile answered 429 Too Many Requests; pausing calls before resending",
                        endpoint=endpoint, wait_s=round(state.upcoming_sleep, 3),
                        retry_after_s=retry_after)
        return hook
