"""Onefile session tokens, as an ``httpx.Auth`` flow.

``POST Authentication`` with header ``X-CustomerToken`` answers a session token (bare text,
or a JSON-quoted string); every other call carries it as ``X-TokenID``. Onefile expires a
session token 24 hours after issuing it, so the flow

* authenticates lazily, on the first call;
* refreshes before sending once the token is older than ``token_refresh_s`` (23 h);
* on a 401 refreshes once and resends (a 401 means the call was not applied, so even an
  assign may be resent);
* lets one refresh run at a time: callers that queued behind it reuse its token.

Authentication requests are yielded through the same client, so they pass the rate limiter
and the metrics like any call. A 401/403 from Authentication means the customer token is
wrong: :class:`ConfigurationError`. Any other failed Authentication answer ends the flow and
is handed to the client as the response, which tells it from the real call's answer by its
endpoint label and retries it (the real call was never sent).

Neither token ever appears in a repr, a log line or an exception text.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import AsyncGenerator, Callable

import httpx
from pydantic import SecretStr

from worker.errors import ConfigurationError, TransientError
from worker.onefile.instrument import ENDPOINT_EXTENSION

__all__ = ["AUTH_ENDPOINT", "OnefileAuth", "parse_session_token"]

AUTH_ENDPOINT = "Authentication"
REJECTED_TOKEN_MESSAGE = "Onefile rejected the customer token (ONEFILE_CUSTOMER_TOKEN)"


def parse_session_token(body: str) -> str | None:
    """The session token from an Authentication body: bare text or a JSON string."""
    text = body.strip()
    if text.startswith('"'):
        try:
            decoded = json.loads(text)
        except ValueError:
            decoded = text.strip('"')
        text = decoded.strip() if isinstance(decoded, str) else ""
    return text or None


class OnefileAuth(httpx.Auth):
    """Adds ``X-TokenID`` to each request, fetching and refreshing the session token."""

    requires_response_body = True

    def __init__(self, base_url: str, customer_token: SecretStr, *,
                 token_refresh_s: float = 23 * 3600,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._auth_url = f"{base_url.rstrip('/')}/{AUTH_ENDPOINT}"
        self._customer_token = customer_token
        self._token_refresh_s = token_refresh_s
        self._clock = clock
        self._session_token: SecretStr | None = None
        self._issued_at = -math.inf
        self._generation = 0  # bumped per issued token: tells waiters a refresh happened
        self._lock = asyncio.Lock()
        self.tokens_issued = 0

    def __repr__(self) -> str:
        state = "held" if self._session_token is not None else "none"
        return f"OnefileAuth(url={self._auth_url!r}, session_token={state})"

    @property
    def auth_url(self) -> str:
        return self._auth_url

    def redact(self, text: str) -> str:
        """``text`` with either token, should it appear, replaced by ``***``."""
        for secret in (self._customer_token, self._session_token):
            value = secret.get_secret_value() if secret is not None else ""
            if value:
                text = text.replace(value, "***")
        return text

    def invalidate(self) -> None:
        """Forget the session token; the next call authenticates again."""
        self._session_token = None

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if self._is_stale():
            async with self._lock:
                if self._is_stale():
                    answer = yield self._auth_request(request)
                    if not self._accept(answer):
                        return
        used = self._generation
        self._sign(request)
        response = yield request
        if response.status_code != 401:
            return
        async with self._lock:
            if self._generation == used:  # nobody refreshed since this token was used
                answer = yield self._auth_request(request)
                if not self._accept(answer):
                    return
        self._sign(request)
        yield request

    def _is_stale(self) -> bool:
        return (self._session_token is None
                or self._clock() - self._issued_at >= self._token_refresh_s)

    def _auth_request(self, original: httpx.Request) -> httpx.Request:
        extensions: dict[str, object] = {ENDPOINT_EXTENSION: AUTH_ENDPOINT}
        if "timeout" in original.extensions:
            extensions["timeout"] = original.extensions["timeout"]
        return httpx.Request(
            "POST",
            self._auth_url,
            headers={"X-CustomerToken": self._customer_token.get_secret_value(),
                     "Accept": "application/json, text/plain"},
            extensions=extensions,
        )

    def _accept(self, response: httpx.Response) -> bool:
        """Keep the token from a good answer; False hands a failed answer to the client."""
        if response.status_code in (401, 403):
            raise ConfigurationError(REJECTED_TOKEN_MESSAGE)
        if not response.is_success:
            return False
        token = parse_session_token(response.text)
        if token is None:
            raise TransientError("Onefile Authentication answered without a session token",
                                 status_code=response.status_code)
        self._session_token = SecretStr(token)
        self._issued_at = self._clock()
        self._generation += 1
        self.tokens_issued += 1
        return True

    def _sign(self, request: httpx.Request) -> None:
        if self._session_token is not None:
            request.headers["X-TokenID"] = self._session_token.get_secret_value()
