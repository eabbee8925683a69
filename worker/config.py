"""All settings in one pydantic-settings class; names and defaults are CONTRACT.md's.

Environment variables win over a ``.env`` file; the CLI may override single fields.
An invalid value stops start-up with one line naming the variable (``SettingsError``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = ["Settings", "SettingsError", "load_settings"]


class SettingsError(Exception):
    """A configuration problem, worded as one line that names the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    amqp_url: str = "amqp://guest:guest@localhost:5672/"
    onefile_base_url: str = "http://127.0.0.1:8080/api/v2.1"
    onefile_customer_token: SecretStr
    onefile_rate_limit_per_minute: int = Field(300, gt=0)
    mapping_file: str = "mapping.yaml"
    ledger_url: str = "sqlite:///onefile-worker.db"
    metrics_port: int = Field(9108, ge=0, le=65535)
    retry_delays: Annotated[list[int], NoDecode] = [30, 300, 1800, 7200]
    prefetch: int = Field(32, gt=0, le=65535)
    log_format: Literal["json", "console"] = "json"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"

    # Additions to the contract (documented in README.md).
    onefile_timeout_s: float = Field(30.0, gt=0)
    onefile_page_size: int = Field(100, gt=0, le=1000)
    shutdown_grace_s: float = Field(15.0, gt=0, le=60)
    circuit_failure_threshold: int = Field(5, gt=0)
    circuit_probe_max_s: float = Field(60.0, gt=0)

    @field_validator("amqp_url")
    @classmethod
    def _amqp_scheme(cls, value: str) -> str:
        if not value.startswith(("amqp://", "amqps://")):
            raise ValueError("must start with amqp:// or amqps://")
        return value

    @field_validator("onefile_base_url")
    @classmethod
    def _http_scheme(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("ledger_url")
    @classmethod
    def _ledger_scheme(cls, value: str) -> str:
        if value.startswith("sqlite:///") and len(value) > len("sqlite:///"):
            return value
        if value.startswith(("postgresql://", "postgres://")):
            return value
        raise ValueError(
            "must be sqlite:///relative.db, sqlite:////absolute.db or postgresql://...")

    @field_validator("retry_delays", mode="before")
    @classmethod
    def _split_delays(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p.strip() for p in value.split(",") if p.strip()]
            try:
                delays = [int(p) for p in parts]
            except ValueError:
                raise ValueError("must be comma-separated seconds, e.g. 30,300,1800") from None
            if any(d <= 0 for d in delays):
                raise ValueError("every delay must be greater than 0")
            return delays
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment (and ``.env``); ``SettingsError`` on any problem."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        err = exc.errors()[0]
        name = str(err["loc"][0]).upper() if err["loc"] else "configuration"
        if err["type"] == "missing":
            raise SettingsError(f"{name} is required but not set") from None
        message = err["msg"].removeprefix("Value error, ")
        raise SettingsError(f"{name} is invalid: {message}") from None
