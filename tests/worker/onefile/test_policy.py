"""Pure pieces of the retry policy: Retry-After, Onefile's error message, classification."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from tenacity import AsyncRetrying, RetryCallState, wait_fixed

from worker.errors import AmbiguousError, ConfigurationError, OnefileRejectedError
from worker.onefile.instrument import ENDPOINT_EXTENSION
from worker.onefile.policy import (
    MESSAGE_CAP,
    RateLimited,
    Retryable,
    classify_exception,
    classify_response,
    onefile_message,
    parse_retry_after,
    stop_at_deadline,
    wait_retry_after_or,
)

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def _response(status: int, endpoint: str = "Standard/Assign", **kwargs: object) -> httpx.Response:
    request = httpx.Request("POST", "http://onefile.test/x",
                            extensions={ENDPOINT_EXTENSION: endpoint})
    return httpx.Response(status, request=request, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(("header", "seconds"), [
    ("120", 120.0), (" 3 ", 3.0), ("0.25", 0.25), ("-5", 0.0),
    ("Wed, 01 May 2024 12:00:30 GMT", 30.0), ("Wed, 01 May 2024 11:59:00 GMT", 0.0),
])
def test_retry_after_reads_seconds_or_an_http_date(header: str, seconds: float) -> None:
    assert parse_retry_after(header, now=NOW) == pytest.approx(seconds)


@pytest.mark.parametrize("header", [None, "", "soon", "nan"])
def test_retry_after_is_none_when_absent_or_unreadable(header: str | None) -> None:
    assert parse_retry_after(header, now=NOW) is None


def test_onefile_message_reads_the_json_message_field() -> None:
    assert onefile_message(_response(400, json={"Message": "Bad learner"})) == "Bad learner"
    assert onefile_message(_response(404, json={"message": "Not found"})) == "Not found"


def test_onefile_message_caps_a_text_body() -> None:
    assert onefile_message(_response(400, text="x" * 5000)) == "x" * MESSAGE_CAP


def test_onefile_message_is_none_for_an_empty_body() -> None:
    assert onefile_message(_response(403)) is None


def test_a_5xx_on_an_idempotent_call_is_retryable_with_its_status() -> None:
    with pytest.raises(Retryable) as caught:
        classify_response(_response(503, "LearningAim/Search"), "LearningAim/Search",
                          idempotent=True)
    assert caught.value.status_code == 503


def test_a_5xx_on_an_assign_is_ambiguous() -> None:
    with pytest.raises(AmbiguousError) as caught:
        classify_response(_response(500), "Standard/Assign", idempotent=False)
    assert caught.value.status_code == 500


def test_a_5xx_from_authentication_in_front_of_an_assign_is_retryable() -> None:
    with pytest.raises(Retryable):
        classify_response(_response(502, "Authentication"), "Standard/Assign",
                          idempotent=False)


def test_a_429_is_rate_limited_with_its_retry_after() -> None:
    with pytest.raises(RateLimited) as caught:
        classify_response(_response(429, headers={"Retry-After": "7"}), "Standard/Assign",
                          idempotent=False)
    assert caught.value.retry_after_s == 7.0


@pytest.mark.parametrize("status", [400, 403, 404, 409, 422])
def test_a_4xx_is_rejected_with_status_endpoint_and_message(status: int) -> None:
    with pytest.raises(OnefileRejectedError) as caught:
        classify_response(_response(status, json={"Message": "nope"}), "Standard/Assign",
                          idempotent=False)
    error = caught.value
    assert (error.status_code, error.endpoint, error.onefile_message) == (
        status, "Standard/Assign", "nope")
    assert error.reason == "onefile_rejected"


def test_a_persistent_401_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        classify_response(_response(401), "Standard/Assign", idempotent=False)


def test_a_rejected_message_is_redacted() -> None:
    with pytest.raises(OnefileRejectedError) as caught:
        classify_response(_response(400, text="bad token SECRET"), "Unit/Assign",
                          idempotent=False, redact=lambda t: t.replace("SECRET", "***"))
    assert "SECRET" not in str(caught.value)
    assert caught.value.onefile_message == "bad token ***"


def _exc(kind: type[httpx.RequestError], endpoint: str = "Unit/Assign") -> httpx.RequestError:
    request = httpx.Request("POST", "http://onefile.test/x",
                            extensions={ENDPOINT_EXTENSION: endpoint})
    return kind("boom", request=request)


@pytest.mark.parametrize("kind", [httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout])
def test_a_failure_before_sending_an_assign_is_retryable(kind: type[httpx.RequestError]) -> None:
    assert isinstance(classify_exception(_exc(kind), "Unit/Assign", idempotent=False),
                      Retryable)


@pytest.mark.parametrize("kind", [httpx.ReadTimeout, httpx.WriteTimeout, httpx.ReadError,
                                  httpx.RemoteProtocolError])
def test_a_failure_after_sending_an_assign_is_ambiguous(kind: type[httpx.RequestError]) -> None:
    assert isinstance(classify_exception(_exc(kind), "Unit/Assign", idempotent=False),
                      AmbiguousError)


def test_a_read_timeout_on_a_search_is_retryable() -> None:
    failure = classify_exception(_exc(httpx.ReadTimeout, "User/Search"), "User/Search",
                                 idempotent=True)
    assert isinstance(failure, Retryable)


def test_a_read_timeout_on_authentication_before_an_assign_is_retryable() -> None:
    failure = classify_exception(_exc(httpx.ReadTimeout, "Authentication"), "Unit/Assign",
                                 idempotent=False)
    assert isinstance(failure, Retryable)


def _state(exc: BaseException, upcoming_sleep: float = 0.0) -> RetryCallState:
    state = RetryCallState(AsyncRetrying(), fn=None, args=(), kwargs={})
    state.set_exception((type(exc), exc, None))
    state.upcoming_sleep = upcoming_sleep
    return state


def test_a_429_wait_is_the_retry_after_when_given() -> None:
    wait = wait_retry_after_or(wait_fixed(9))
    assert wait(_state(RateLimited(2.5))) == 2.5


def test_a_429_wait_falls_back_to_backoff_without_retry_after() -> None:
    wait = wait_retry_after_or(wait_fixed(9))
    assert wait(_state(RateLimited(None))) == 9


def test_the_429_budget_stops_before_a_wait_that_would_end_past_the_deadline() -> None:
    stop = stop_at_deadline(deadline=10.0, clock=lambda: 8.0)
    assert not stop(_state(RateLimited(None), upcoming_sleep=2.0))
    assert stop(_state(RateLimited(None), upcoming_sleep=2.1))
