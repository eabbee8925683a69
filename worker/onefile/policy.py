"""What a Onefile answer or failure means for the call that got it: decided here, once.

Pure functions and tenacity pieces, no I/O. The client sends; this module classifies:

* 2xx: success.
* 429: :class:`RateLimited` (the call was not applied: always safe to resend, even an
  assign), waited out separately from failures, honouring ``Retry-After``.
* 5xx, timeouts, connection errors: :class:`Retryable` when resending cannot double an
  effect (an idempotent call, or a failure before the request left: connect errors, pool
  timeouts, or a failed Authentication in front of the real call); otherwise
  :class:`AmbiguousError` at once: the assign may have been applied.
* 400/403/404 and any other 4xx: :class:`OnefileRejectedError` with Onefile's message.
* A persistent 401 (after the auth flow's one refresh) or a failed Authentication that is
  not 429/5xx: :class:`ConfigurationError`; the worker itself is wrong.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
from tenacity import RetryCallState
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from worker.errors import (
    AmbiguousError,
    ConfigurationError,
    OnefileRejectedError,
)
from worker.onefile.auth import AUTH_ENDPOINT
from worker.onefile.instrument import endpoint_of

__all__ = [
    "MESSAGE_CAP",
    "RateLimited",
    "Retryable",
    "classify_exception",
    "classify_response",
    "onefile_message",
    "parse_retry_after",
    "stop_at_deadline",
    "wait_retry_after_or",
]

MESSAGE_CAP = 300  # characters of a non-JSON error body kept in exceptions and logs

# Failures raised before any byte of the request reached Onefile.
_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class Retryable(Exception):
    """A failure another attempt may cure without risking a double effect."""

    def __init__(self, detail: str, *, status_code: int | None = None) -> None:
        super().__init__(detail)
        self.status_code = status_code


class RateLimited(Exception):
    """Onefile answered 429: the call was not applied; wait and resend."""

    def __init__(self, retry_after_s: float | None) -> None:
        super().__init__("Onefile answered 429 Too Many Requests")
        self.retry_after_s = retry_after_s


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date), or None."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def onefile_message(response: httpx.Response, cap: int = MESSAGE_CAP) -> str | None:
    """Onefile's own words from an error body: JSON ``Message``/``message``, else the text."""
    text = response.text.strip()
    if not text:
        return None
    try:
        body = json.loads(text)
    except ValueError:
        return text[:cap]
    if isinstance(body, dict):
        for key in ("Message", "message"):
            if isinstance(body.get(key), str) and body[key].strip():
                return body[key].strip()[:cap]
    if isinstance(body, str) and body.strip():
        return body.strip()[:cap]
    return text[:cap]


def classify_response(response: httpx.Response, endpoint: str, *, idempotent: bool,
                      redact: Callable[[str], str] = str) -> httpx.Response:
    """Return a successful response; raise what any other answer means."""
    status = response.status_code
    if response.is_success:
        return response
    answered = endpoint_of(response.request)  # Authentication when the auth flow gave up
    if status == 429:
        raise RateLimited(parse_retry_after(response.headers.get("Retry-After")))
    if status >= 500:
        if idempotent or answered == AUTH_ENDPOINT:
            raise Retryable(f"{answered} answered {status}", status_code=status)
        raise AmbiguousError(
            f"Onefile {endpoint} answered {status}: the call may have taken effect",
            status_code=status)
    if answered == AUTH_ENDPOINT:
        raise ConfigurationError(
            f"Onefile Authentication answered {status}: check ONEFILE_BASE_URL")
    if status == 401:
        raise ConfigurationError(
            f"Onefile refused a freshly issued session token on {endpoint} (401)")
    message = onefile_message(response)
    message = redact(message) if message is not None else None
    text = f"Onefile rejected {endpoint} with {status}" + (f": {message}" if message else "")
    raise OnefileRejectedError(text, status_code=status, endpoint=endpoint,
                               onefile_message=message)


def classify_exception(exc: httpx.RequestError, endpoint: str, *,
                       idempotent: bool) -> Exception:
    """What an httpx failure means for this call (returned, for ``raise … from exc``)."""
    if isinstance(exc, httpx.UnsupportedProtocol):
        return ConfigurationError("ONEFILE_BASE_URL has an unsupported scheme")
    failed = _failed_endpoint(exc, endpoint)
    kind = type(exc).__name__
    if idempotent or failed == AUTH_ENDPOINT or isinstance(exc, _NEVER_SENT):
        return Retryable(f"{kind} on {failed}")
    return AmbiguousError(f"Onefile {endpoint}: {kind} after the request was sent: "
                          "the call may have taken effect")


def _failed_endpoint(exc: httpx.RequestError, default: str) -> str:
    try:
        return endpoint_of(exc.request)
    except RuntimeError:  # httpx raises when no request was attached
        return default


class wait_retry_after_or(wait_base):
    """Wait what a 429's ``Retry-After`` said, else what ``fallback`` computes."""

    def __init__(self, fallback: wait_base) -> None:
        self.fallback = fallback

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        if isinstance(exc, RateLimited) and exc.retry_after_s is not None:
            return exc.retry_after_s
        return float(self.fallback(retry_state))


class stop_at_deadline(stop_base):
    """Stop when the next wait would end past ``deadline`` on ``clock``."""

    def __init__(self, deadline: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.deadline = deadline
        self.clock = clock

    def __call__(self, retry_state: RetryCallState) -> bool:
        return self.clock() + retry_state.upcoming_sleep > self.deadline
