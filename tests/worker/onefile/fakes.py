"""A scripted Onefile behind ``httpx.MockTransport``: no network, every request recorded."""

from __future__ import annotations

import asyncio
import inspect
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

BASE_URL = "http://onefile.test/api/v2.1"
CUSTOMER_TOKEN = "cust-SECRET-123"
SESSION_PREFIX = "sess-SECRET-"

Answer = (httpx.Response | Exception
          | Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]])


class FakeOnefile:
    """Answers scripted per path prefix, in order; defaults once a script runs dry.

    Defaults: Authentication issues ``sess-SECRET-<n>`` (bare text) for the right customer
    token and 401 otherwise; any other call without a live session token gets 401; Standard
    and Unit assigns answer ``1``, template assigns 204, searches 204 (no results).
    """

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.live_tokens: set[str] = set()
        self.tokens_issued = 0
        self._scripts: dict[str, deque[Answer]] = {}

    def script(self, prefix: str, *answers: Answer) -> None:
        """Answer the next calls whose path (after the API root) starts with ``prefix``."""
        self._scripts.setdefault(prefix, deque()).extend(answers)

    def expire_tokens(self) -> None:
        self.live_tokens.clear()

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def paths(self, prefix: str = "") -> list[str]:
        """Paths (after the API root) of the requests seen, optionally filtered."""
        return [p for p in (_path(r) for r in self.requests) if p.startswith(prefix)]

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = _path(request)
        for prefix, answers in self._scripts.items():
            if path.startswith(prefix) and answers:
                answer = answers.popleft()
                if isinstance(answer, Exception):
                    raise answer
                if isinstance(answer, httpx.Response):
                    return answer
                result = answer(request)
                return await result if inspect.isawaitable(result) else result
        return self._default(request, path)

    def _default(self, request: httpx.Request, path: str) -> httpx.Response:
        if path == "Authentication":
            if request.headers.get("X-CustomerToken") != CUSTOMER_TOKEN:
                return httpx.Response(401, json={"Message": "Invalid customer token"})
            self.tokens_issued += 1
            token = f"{SESSION_PREFIX}{self.tokens_issued}"
            self.live_tokens.add(token)
            return httpx.Response(200, text=token)
        if request.headers.get("X-TokenID") not in self.live_tokens:
            return httpx.Response(401, json={"Message": "Token expired"})
        if "/Assign/" in path and not path.startswith("FrameworkTemplate/"):
            return httpx.Response(200, json=1)
        return httpx.Response(204)


def _path(request: httpx.Request) -> str:
    return request.url.path.split("/api/v2.1/", 1)[-1]


class Gate:
    """Holds answers until ``n`` requests wait at it, then lets them all answer ``response``.

    Forces concurrent calls to overlap without sleeping.
    """

    def __init__(self, n: int, response: Callable[[], httpx.Response]) -> None:
        self._n = n
        self._response = response
        self._waiting = 0
        self._open = asyncio.Event()

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self._waiting += 1
        if self._waiting >= self._n:
            self._open.set()
        await self._open.wait()
        return self._response()


def json_response(status: int, body: Any, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)
