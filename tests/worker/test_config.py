"""Settings: CONTRACT.md's defaults exactly, and one line naming a bad variable."""

from __future__ import annotations

import pytest

from worker.config import SettingsError, load_settings

CONTRACT_VARIABLES = ["AMQP_URL", "ONEFILE_BASE_URL", "ONEFILE_CUSTOMER_TOKEN",
                      "ONEFILE_RATE_LIMIT_PER_MINUTE", "MAPPING_FILE", "LEDGER_URL",
                      "METRICS_PORT", "RETRY_DELAYS", "PREFETCH", "LOG_FORMAT", "LOG_LEVEL"]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for name in CONTRACT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("ONEFILE_CUSTOMER_TOKEN", "t0ken")


def test_defaults_are_the_contracts():
    s = load_settings()
    assert s.amqp_url == "amqp://guest:guest@localhost:5672/"
    assert s.onefile_base_url == "http://127.0.0.1:8080/api/v2.1"
    assert s.onefile_rate_limit_per_minute == 300
    assert s.mapping_file == "mapping.yaml"
    assert s.ledger_url == "sqlite:///onefile-worker.db"
    assert s.metrics_port == 9108
    assert s.retry_delays == [30, 300, 1800, 7200]
    assert s.prefetch == 32
    assert s.log_format == "json"
    assert s.log_level == "INFO"


def test_retry_delays_parse_from_a_comma_list(monkeypatch):
    monkeypatch.setenv("RETRY_DELAYS", "5, 10,20")
    assert load_settings().retry_delays == [5, 10, 20]


@pytest.mark.parametrize(("name", "value"), [
    ("RETRY_DELAYS", "soon"), ("RETRY_DELAYS", "0,5"), ("PREFETCH", "0"),
    ("LOG_FORMAT", "xml"), ("LEDGER_URL", "mysql://x"), ("AMQP_URL", "http://x"),
    ("METRICS_PORT", "70000"), ("ONEFILE_RATE_LIMIT_PER_MINUTE", "-1"),
])
def test_an_invalid_value_fails_with_one_line_naming_the_variable(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert str(info.value).startswith(name) and "\n" not in str(info.value)


def test_a_missing_customer_token_is_named(monkeypatch):
    monkeypatch.delenv("ONEFILE_CUSTOMER_TOKEN")
    with pytest.raises(SettingsError, match=r"^ONEFILE_CUSTOMER_TOKEN is required"):
        load_settings()


def test_the_token_never_shows_in_the_settings_repr():
    assert "t0ken" not in repr(load_settings())
