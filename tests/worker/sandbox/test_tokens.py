"""Session tokens of the sandbox's Authentication endpoint."""

from __future__ import annotations

from worker.sandbox.tokens import TokenStore


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_token_is_valid_until_ttl_s_after_issue():
    clock = FakeClock()
    store = TokenStore(ttl_s=10, clock=clock)
    token = store.issue()

    clock.now = 9.999
    assert store.is_valid(token)
    clock.now = 10.0
    assert not store.is_valid(token)


def test_each_issue_is_a_new_token_and_is_counted():
    store = TokenStore(ttl_s=10)

    assert len({store.issue() for _ in range(5)}) == 5
    assert store.issued == 5


def test_unknown_or_missing_tokens_are_invalid():
    store = TokenStore(ttl_s=10)

    assert not store.is_valid("not-a-token")
    assert not store.is_valid(None)
    assert not store.is_valid("")


def test_expire_all_expires_every_issued_token_but_not_later_ones():
    clock = FakeClock()
    store = TokenStore(ttl_s=10, clock=clock)
    old = [store.issue(), store.issue()]
    store.expire_all()
    fresh = store.issue()

    assert not any(store.is_valid(t) for t in old)
    assert store.is_valid(fresh)


def test_reset_forgets_tokens_and_the_issue_count():
    store = TokenStore(ttl_s=10)
    token = store.issue()
    store.reset()

    assert not store.is_valid(token)
    assert store.issued == 0
