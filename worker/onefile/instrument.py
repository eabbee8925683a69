"""Counts and times every HTTP call to Onefile, whoever made it (client or auth flow).

The endpoint label is the path template the caller put in the request's extensions under
:data:`ENDPOINT_EXTENSION` (e.g. ``"FrameworkTemplate/Assign"``), never the URL, so labels
never carry learner or template IDs. The body is read here, inside the call, so that a
timeout while reading is counted against this call and the rate-limit slot around it stays
held until the answer is complete.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

from worker.metrics import ONEFILE_REQUEST_SECONDS, ONEFILE_REQUESTS

__all__ = ["ENDPOINT_EXTENSION", "CallCounter", "InstrumentedTransport", "endpoint_of"]

ENDPOINT_EXTENSION = "onefile_endpoint"
_UNLABELLED = "other"


def endpoint_of(request: httpx.Request) -> str:
    """The endpoint template a request was labelled with."""
    label = request.extensions.get(ENDPOINT_EXTENSION)
    return label if isinstance(label, str) else _UNLABELLED


@dataclass
class CallCounter:
    """How many HTTP calls went out, by outcome; the client's ``stats`` reads it."""

    calls: int = 0
    rate_limited: int = 0
    server_errors: int = 0
    timeouts: int = 0
    connection_errors: int = 0


class InstrumentedTransport(httpx.AsyncBaseTransport):
    """Records ``ONEFILE_REQUESTS`` and ``ONEFILE_REQUEST_SECONDS`` around the inner transport."""

    def __init__(self, inner: httpx.AsyncBaseTransport, counter: CallCounter | None = None) -> None:
        self._inner = inner
        self.counter = counter if counter is not None else CallCounter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        endpoint = endpoint_of(request)
        self.counter.calls += 1
        started = time.perf_counter()
        try:
            response = await self._inner.handle_async_request(request)
            try:
                await response.aread()
            except BaseException:
                await response.aclose()
                raise
        except httpx.TimeoutException:
            self.counter.timeouts += 1
            self._record(endpoint, "timeout", started)
            raise
        except httpx.TransportError:
            self.counter.connection_errors += 1
            self._record(endpoint, "connection_error", started)
            raise
        if response.status_code == 429:
            self.counter.rate_limited += 1
        elif response.status_code >= 500:
            self.counter.server_errors += 1
        self._record(endpoint, str(response.status_code), started)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()

    @staticmethod
    def _record(endpoint: str, status: str, started: float) -> None:
        ONEFILE_REQUESTS.labels(endpoint=endpoint, status_code=status).inc()
        ONEFILE_REQUEST_SECONDS.labels(endpoint=endpoint).observe(time.perf_counter() - started)
