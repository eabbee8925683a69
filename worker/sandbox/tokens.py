"""Session tokens: issued by ``Authentication``, valid for ``ttl_s`` seconds after issue."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable


class TokenStore:
    """Random bearer tokens with an expiry each, on an injectable monotonic clock."""

    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        self.ttl_s = ttl_s
        self._clock = clock
        self._expiry: dict[str, float] = {}
        self.issued = 0

    def issue(self) -> str:
        now = self._clock()
        if len(self._expiry) > 10_000:
            # A long benchmark may authenticate many times; forget the dead tokens.
            self._expiry = {t: e for t, e in self._expiry.items() if e > now}
        token = secrets.token_hex(20)
        self._expiry[token] = now + self.ttl_s
        self.issued += 1
        return token

    def is_valid(self, token: str | None) -> bool:
        if not token:
            return False
        expiry = self._expiry.get(token)
        return expiry is not None and self._clock() < expiry

    def expire_all(self) -> None:
        """Make every token issued so far expired from now on (as if 24 h had passed)."""
        now = self._clock()
        self._expiry = dict.fromkeys(self._expiry, now)

    def reset(self) -> None:
        self._expiry.clear()
        self.issued = 0
