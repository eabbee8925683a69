"""The Onefile API v2.1 client: endpoints, paging and the retry policy.

Layers, outermost first, each adding one concern::

    OnefileClient        endpoints, paging, retries (tenacity), error translation (policy.py)
    └── httpx.AsyncClient + OnefileAuth      session token: fetch, refresh, one resend on 401
        └── RateLimitedTransport             at most N calls in any window, as Onefile counts
            └── InstrumentedTransport        metrics for every call, body read in the call
                └── transport                httpx's HTTP transport (or a test's MockTransport)

Two retry loops, so a 429 is never counted as a failure:

* the outer loop retries :class:`~worker.onefile.policy.Retryable` failures up to
  ``max_attempts`` times with full-jitter exponential backoff (``backoff_base_s`` doubling,
  capped at ``backoff_max_s``), then raises :class:`TransientError`;
* the inner loop resends after a 429 (``Retry-After`` if given, else jittered exponential
  backoff) and pauses the shared limiter for that long, until ``max_429_wait_s`` after the
  call started, then raises :class:`TransientError` with ``status_code=429``.

Assigns are not idempotent: a failure after the request may have reached Onefile raises
:class:`AmbiguousError` immediately and is never resent here; the caller looks at the
learner's aims before assigning again.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import structlog
from pydantic import BaseModel, SecretStr, ValidationError
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
from worker.onefile.auth import OnefileAuth
from worker.onefile.instrument import ENDPOINT_EXTENSION, CallCounter, InstrumentedTransport
from worker.onefile.models import FrameworkTemplate, LearningAim, Standard, Unit, UnitSummary, User
from worker.onefile.policy import (
    RateLimited,
    Retryable,
    classify_exception,
    classify_response,
    stop_at_deadline,
    wait_retry_after_or,
)
from worker.onefile.ratelimit import RateLimitedTransport, SlidingWindowLimiter

__all__ = ["ClientStats", "OnefileClient"]

log = structlog.get_logger(__name__)

Record = TypeVar("Record", bound=BaseModel)


@dataclass(frozen=True)
class ClientStats:
    """Counts since the client was made: every HTTP call, authentication included."""

    calls: int
    tokens_issued: int
    retries: int
    rate_limited: int
    ambiguous: int
    server_errors: int
    timeouts: int
    connection_errors: int


def _pascal(name: str) -> str:
    """``organisation_id`` -> ``OrganisationID``, ``mis_id`` -> ``MISID``; PascalCase kept."""
    if "_" not in name and name[:1].isupper():
        return name
    special = {"id": "ID", "mis": "MIS"}
    return "".join(special.get(part, part.capitalize()) for part in name.split("_"))


def _body(**fields: Any) -> dict[str, Any]:
    return {_pascal(key): value for key, value in fields.items() if value is not None}


class OnefileClient:
    """Async client for the Onefile endpoints the worker uses."""

    def __init__(self, base_url: str, customer_token: str | SecretStr, *,
                 rate_limit_per_minute: int = 300, timeout_s: float = 30.0,
                 page_size: int = 100, max_attempts: int = 4, max_429_wait_s: float = 300.0,
                 token_refresh_s: float = 23 * 3600,
                 transport: httpx.AsyncBaseTransport | None = None,
                 backoff_base_s: float = 0.5, backoff_max_s: float = 10.0,
                 window_s: float = 60.0) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._base_url = base_url.rstrip("/")
        self._customer_token = (customer_token if isinstance(customer_token, SecretStr)
                                else SecretStr(customer_token))
        self._page_size = page_size
        self._max_attempts = max_attempts
        self._max_429_wait_s = max_429_wait_s
        self._backoff_base_s = backoff_base_s
        self._backoff_max_s = backoff_max_s
        self._clock = time.monotonic
        self.limiter = SlidingWindowLimiter(rate_limit_per_minute, window_s)
        self._counter = CallCounter()
        self._retries = 0
        self._ambiguous = 0
        self._auth = OnefileAuth(self._base_url, self._customer_token,
                                 token_refresh_s=token_refresh_s)
        stack = RateLimitedTransport(
            InstrumentedTransport(transport or httpx.AsyncHTTPTransport(), self._counter),
            self.limiter)
        self._http = httpx.AsyncClient(
            base_url=self._base_url + "/", auth=self._auth, transport=stack,
            timeout=httpx.Timeout(timeout_s), headers={"Accept": "application/json"})

    def __repr__(self) -> str:
        return (f"OnefileClient(base_url={self._base_url!r}, "
                f"rate_limit_per_minute={self.limiter.limit}, window_s={self.limiter.window_s:g})")

    async def __aenter__(self) -> OnefileClient:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def stats(self) -> ClientStats:
        c = self._counter
        return ClientStats(calls=c.calls, tokens_issued=self._auth.tokens_issued,
                           retries=self._retries, rate_limited=c.rate_limited,
                           ambiguous=self._ambiguous, server_errors=c.server_errors,
                           timeouts=c.timeouts, connection_errors=c.connection_errors)

    # Framework templates -------------------------------------------------------------

    async def search_framework_templates(self, *, organisation_id: int | None = None,
                                         title: str | None = None) -> list[FrameworkTemplate]:
        items = await self._search("FrameworkTemplate/Search", "FrameworkTemplate/Search",
                                   _body(organisation_id=organisation_id, title=title))
        return self._parse(FrameworkTemplate, items, "FrameworkTemplate/Search")

    async def assign_framework_template(self, template_id: int, user_id: int, *,
                                        only_change_assigned: bool = False) -> None:
        flag = "true" if only_change_assigned else "false"
        await self._post("FrameworkTemplate/Assign",
                         f"FrameworkTemplate/{template_id}/Assign/{user_id}/{flag}",
                         {}, idempotent=False)

    # Standards and units -------------------------------------------------------------

    async def search_standards(self, *, organisation_id: int | None = None,
                               title: str | None = None) -> list[Standard]:
        items = await self._search("Standard/Search", "Standard/Search",
                                   _body(organisation_id=organisation_id, title=title))
        return self._parse(Standard, items, "Standard/Search")

    async def assign_standard(self, standard_id: int, learner_id: int) -> int:
        """Assign a standard; returns the new LearningAim ID."""
        response = await self._post("Standard/Assign",
                                    f"Standard/{standard_id}/Assign/{learner_id}",
                                    {}, idempotent=False)
        return self._new_id(response, "Standard/Assign")

    async def search_units(self, *, standard_id: int | None = None) -> list[Unit]:
        items = await self._search("Unit/Search", "Unit/Search", _body(standard_id=standard_id))
        return self._parse(Unit, items, "Unit/Search")

    async def assign_unit(self, unit_id: int | str, learner_id: int, standard_id: int) -> int:
        """Assign a unit under a standard; returns the new UnitSummary ID."""
        response = await self._post("Unit/Assign",
                                    f"Unit/{quote(str(unit_id), safe='')}/Assign/"
                                    f"{learner_id}/{standard_id}",
                                    {}, idempotent=False)
        return self._new_id(response, "Unit/Assign")

    # Paged searches ------------------------------------------------------------------

    async def search_learning_aims(self, user_id: int) -> list[LearningAim]:
        items = [i async for i in self.iter_pages("LearningAim/Search", {"UserID": user_id})]
        return self._parse(LearningAim, items, "LearningAim/Search")

    async def search_unit_summaries(self, user_id: int) -> list[UnitSummary]:
        items = [i async for i in self.iter_pages("UnitSummary/Search", {"UserID": user_id})]
        return self._parse(UnitSummary, items, "UnitSummary/Search")

    async def search_users(self, *, organisation_id: int | None = None,
                           mis_id: str | None = None, **filters: Any) -> list[User]:
        """Users matching the filters; extra filters may be snake_case or PascalCase."""
        body = _body(organisation_id=organisation_id, mis_id=mis_id, **filters)
        items = [i async for i in self.iter_pages("User/Search", body)]
        return self._parse(User, items, "User/Search")

    async def iter_pages(self, endpoint: str, body: Mapping[str, Any] | None = None, *,
                         page_size: int | None = None) -> AsyncIterator[dict[str, Any]]:
        """Raw records of ``{endpoint}/{page}/{size}``, pages 1, 2, … until a short page."""
        size = page_size or self._page_size
        page = 1
        while True:
            items = await self._search(endpoint, f"{endpoint}/{page}/{size}", dict(body or {}))
            for item in items:
                yield item
            if len(items) < size:
                return
            page += 1

    # The call itself -----------------------------------------------------------------

    async def _search(self, endpoint: str, path: str,
                      body: dict[str, Any]) -> list[dict[str, Any]]:
        response = await self._post(endpoint, path, body, idempotent=True)
        if response.status_code == 204 or not response.content.strip():
            return []
        try:
            items = response.json()
        except ValueError:
            items = None
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise TransientError(f"Onefile {endpoint} answered a body that is not a list of "
                                 "records", status_code=response.status_code)
        return items

    async def _post(self, endpoint: str, path: str, body: dict[str, Any], *,
                    idempotent: bool) -> httpx.Response:
        """One logical call: failures retried (if safe), 429s waited out, errors translated."""
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
            failure = classify_exception(exc, endpoint, idempotent=idempotent)
            self._count_ambiguous(failure)
            raise failure from exc
        try:
            return classify_response(response, endpoint, idempotent=idempotent,
                                     redact=self._redact)
        except AmbiguousError as failure:
            self._count_ambiguous(failure)
            raise

    def _on_failure(self, endpoint: str) -> Callable[[RetryCallState], None]:
        def hook(state: RetryCallState) -> None:
            self._retries += 1
            exc = state.outcome.exception() if state.outcome else None
            log.warning("Onefile call failed; retrying after a backoff", endpoint=endpoint,
                        attempt=state.attempt_number, max_attempts=self._max_attempts,
                        wait_s=round(state.upcoming_sleep, 3), error=str(exc))
        return hook

    def _on_429(self, endpoint: str) -> Callable[[RetryCallState], None]:
        def hook(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            retry_after = exc.retry_after_s if isinstance(exc, RateLimited) else None
            self.limiter.block_for(state.upcoming_sleep)
            log.warning("Onefile answered 429 Too Many Requests; pausing calls before resending",
                        endpoint=endpoint, wait_s=round(state.upcoming_sleep, 3),
                        retry_after_s=retry_after)
        return hook

    def _count_ambiguous(self, failure: Exception) -> None:
        if isinstance(failure, AmbiguousError):
            self._ambiguous += 1

    def _redact(self, text: str) -> str:
        return self._auth.redact(text)

    # Parsing -------------------------------------------------------------------------

    @staticmethod
    def _parse(model: type[Record], items: list[dict[str, Any]], endpoint: str) -> list[Record]:
        try:
            return [model.model_validate(item) for item in items]
        except ValidationError as exc:
            raise TransientError(f"Onefile {endpoint} answered a record the client cannot "
                                 f"read ({exc.error_count()} problems)") from exc

    def _new_id(self, response: httpx.Response, endpoint: str) -> int:
        """The integer an assign answers: JSON number, JSON string, ``{"ID": n}`` or bare text."""
        text = response.text.strip()
        try:
            value: Any = json.loads(text)
        except ValueError:
            value = text
        if isinstance(value, dict):
            value = value.get("ID", value.get("Id", value.get("id")))
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value.strip())
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        self._ambiguous += 1
        raise AmbiguousError(f"Onefile {endpoint} answered {response.status_code} without a "
                             "readable new ID: the assignment probably took effect",
                             status_code=response.status_code)
