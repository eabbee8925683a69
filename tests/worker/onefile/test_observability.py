"""Metrics label every call by endpoint template; tokens appear nowhere."""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
import pytest
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from tests.worker.onefile.fakes import CUSTOMER_TOKEN, SESSION_PREFIX, FakeOnefile
from worker.errors import WorkerError
from worker.onefile import OnefileClient

MakeClient = Callable[..., OnefileClient]


def _count(endpoint: str, status: str) -> float:
    return REGISTRY.get_sample_value("onefile_api_requests_total",
                                     {"endpoint": endpoint, "status_code": status}) or 0.0


async def test_calls_are_counted_by_endpoint_template_and_status(
        fake: FakeOnefile, make_client: MakeClient) -> None:
    before = {key: _count(*key) for key in [("Authentication", "200"),
                                            ("FrameworkTemplate/Assign", "204"),
                                            ("FrameworkTemplate/Assign", "429")]}
    fake.script("FrameworkTemplate/101", httpx.Response(429))
    await make_client().assign_framework_template(101, 1001)
    assert {key: _count(*key) - value for key, value in before.items()} == {
        ("Authentication", "200"): 1, ("FrameworkTemplate/Assign", "204"): 1,
        ("FrameworkTemplate/Assign", "429"): 1}


async def test_timeouts_and_connection_errors_are_counted_by_kind(
        fake: FakeOnefile, make_client: MakeClient) -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    before = (_count("Standard/Search", "timeout"), _count("Standard/Search", "connection_error"))
    fake.script("Standard/Search", timeout, refused)
    client = make_client()
    await client.search_standards()
    after = (_count("Standard/Search", "timeout"), _count("Standard/Search", "connection_error"))
    assert (after[0] - before[0], after[1] - before[1]) == (1, 1)
    assert (client.stats.timeouts, client.stats.connection_errors) == (1, 1)


async def test_latency_is_observed_per_endpoint_template(fake: FakeOnefile,
                                                         make_client: MakeClient) -> None:
    name = "onefile_api_request_duration_seconds_count"
    before = REGISTRY.get_sample_value(name, {"endpoint": "Unit/Assign"}) or 0.0
    await make_client().assign_unit(9010, 1001, 507)
    assert REGISTRY.get_sample_value(name, {"endpoint": "Unit/Assign"}) == before + 1


async def test_no_endpoint_label_carries_an_id(fake: FakeOnefile,
                                               make_client: MakeClient) -> None:
    client = make_client()
    await client.assign_framework_template(987654, 1234567)
    await client.assign_standard(876543, 1234567)
    await client.assign_unit(765432, 1234567, 876543)
    await client.search_learning_aims(1234567)
    labels = {s.labels["endpoint"] for metric in REGISTRY.collect()
              if metric.name == "onefile_api_requests" for s in metric.samples}
    assert not any(any(ch.isdigit() for ch in label) for label in labels)


def _secrets_in(text: str) -> list[str]:
    return [s for s in (CUSTOMER_TOKEN, SESSION_PREFIX) if s in text]


async def test_client_repr_shows_no_token(fake: FakeOnefile, make_client: MakeClient) -> None:
    client = make_client()
    await client.search_standards()
    assert _secrets_in(repr(client)) == []
    assert _secrets_in(repr(client._auth)) == []
    assert _secrets_in(repr(vars(client))) == []


@pytest.mark.parametrize("answer", [
    httpx.Response(400, text=f"bad header {SESSION_PREFIX}1 for {CUSTOMER_TOKEN}"),
    httpx.Response(400, json={"Message": f"token {SESSION_PREFIX}1 refused"}),
    httpx.Response(500, text=f"{SESSION_PREFIX}1"),
    httpx.Response(401),
])
async def test_no_exception_text_or_log_line_contains_a_token(
        fake: FakeOnefile, make_client: MakeClient, caplog: pytest.LogCaptureFixture,
        answer: httpx.Response) -> None:
    fake.script("Standard/505/Assign", answer, httpx.Response(401))
    caplog.set_level(logging.DEBUG)
    with capture_logs() as logs, pytest.raises(WorkerError) as caught:
        await make_client().assign_standard(505, 1001)
    error = caught.value
    texts = [str(error), repr(error), repr(vars(error)), repr(logs), caplog.text]
    assert [t for t in texts if _secrets_in(t)] == []


async def test_rejected_customer_token_error_does_not_contain_it(
        fake: FakeOnefile, make_client: MakeClient) -> None:
    fake.script("Authentication", httpx.Response(401, text=CUSTOMER_TOKEN))
    with pytest.raises(WorkerError) as caught:
        await make_client().search_standards()
    assert _secrets_in(str(caught.value)) == []
