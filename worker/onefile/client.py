"""The Onefile API v2.1 client: endpoints, paging, and the layers every call passes.

Layers, outermost first, each adding one concern::

    OnefileClient                    endpoints, paging, reading answers into models
    └── Caller (calls.py)            retries and 429 waits; what each outcome means (policy.py)
        └── httpx.AsyncClient + OnefileAuth  session token: fetch, refresh, resend once on 401
            └── RateLimitedTransport         at most N calls in any window, as Onefile counts
                └── InstrumentedTransport    metrics for every call, body read in the call
                    └── transport            httpx's HTTP transport (or a test's MockTransport)

Retries and 429 waits live in ``calls.py``, the decisions behind them in ``policy.py``.

Assigns are not idempotent: a failure after the request may have reached Onefile raises
:class:`AmbiguousError` immediately and is never resent here; the caller looks at the
learner's aims before assigning again.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, SecretStr, ValidationError

from worker.errors import AmbiguousError, TransientError
from worker.onefile.auth import OnefileAuth
from worker.onefile.calls import Caller
from worker.onefile.instrument import CallCounter, InstrumentedTransport
from worker.onefile.models import FrameworkTemplate, LearningAim, Standard, Unit, UnitSummary, User
from worker.onefile.ratelimit import CallJournal, RateLimitedTransport, SlidingWindowLimiter

__all__ = ["ClientStats", "OnefileClient"]

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
                 window_s: float = 60.0, journal: CallJournal | None = None) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self._base_url = base_url.rstrip("/")
        self._customer_token = (customer_token if isinstance(customer_token, SecretStr)
                                else SecretStr(customer_token))
        self._page_size = page_size
        self.limiter = SlidingWindowLimiter(rate_limit_per_minute, window_s)
        self._counter = CallCounter()
        self._unreadable_ids = 0
        self._auth = OnefileAuth(self._base_url, self._customer_token,
                                 token_refresh_s=token_refresh_s)
        self._journal = journal
        stack = RateLimitedTransport(
            InstrumentedTransport(transport or httpx.AsyncHTTPTransport(), self._counter),
            self.limiter, journal)
        self._http = httpx.AsyncClient(
            base_url=self._base_url + "/", auth=self._auth, transport=stack,
            timeout=httpx.Timeout(timeout_s), headers={"Accept": "application/json"})
        self._caller = Caller(self._http, self.limiter, max_attempts=max_attempts,
                              max_429_wait_s=max_429_wait_s, backoff_base_s=backoff_base_s,
                              backoff_max_s=backoff_max_s, redact=self._auth.redact)

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

    async def count_earlier_calls(self) -> int:
        """Seed the limiter with the journal's calls of the last window (made by an earlier
        process with the same token, which Onefile still counts); return how many."""
        if self._journal is None:
            return 0
        calls = await self._journal.calls_since(time.time() - self.limiter.window_s - 5)
        self.limiter.seed_calls(calls)
        return len(calls)

    @property
    def stats(self) -> ClientStats:
        c = self._counter
        return ClientStats(calls=c.calls, tokens_issued=self._auth.tokens_issued,
                           retries=self._caller.retries, rate_limited=c.rate_limited,
                           ambiguous=self._caller.ambiguous + self._unreadable_ids,
                           server_errors=c.server_errors,
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
        await self._caller.post("FrameworkTemplate/Assign",
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
        response = await self._caller.post("Standard/Assign",
                                           f"Standard/{standard_id}/Assign/{learner_id}",
                                           {}, idempotent=False)
        return self._new_id(response, "Standard/Assign")

    async def search_units(self, *, standard_id: int | None = None) -> list[Unit]:
        items = await self._search("Unit/Search", "Unit/Search", _body(standard_id=standard_id))
        return self._parse(Unit, items, "Unit/Search")

    async def assign_unit(self, unit_id: int | str, learner_id: int, standard_id: int) -> int:
        """Assign a unit under a standard; returns the new UnitSummary ID."""
        path = f"Unit/{quote(str(unit_id), safe='')}/Assign/{learner_id}/{standard_id}"
        response = await self._caller.post("Unit/Assign", path, {}, idempotent=False)
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
        response = await self._caller.post(endpoint, path, body, idempotent=True)
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
        self._unreadable_ids += 1
        raise AmbiguousError(f"Onefile {endpoint} answered {response.status_code} without a "
                             "readable new ID: the assignment probably took effect",
                             status_code=response.status_code)
