"""The one start-up line: the effective configuration, secrets masked."""

from __future__ import annotations

import re

import structlog

from worker.config import Settings
from worker.mapping import Mapping
from worker.metrics import BUILD_INFO

__all__ = ["log_startup", "mask_url"]


def mask_url(url: str) -> str:
    """``amqp://user:secret@host`` -> ``amqp://user:***@host``."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def log_startup(settings: Settings, mapping: Mapping) -> None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        build = version("onefile-worker")
    except PackageNotFoundError:
        build = "unknown"
    BUILD_INFO.info({"version": build})
    config = settings.model_dump(mode="json")
    config["onefile_customer_token"] = "***"
    for key in ("amqp_url", "ledger_url"):
        config[key] = mask_url(config[key])
    structlog.get_logger("worker").info(
        "onefile-worker starting", version=build, courses=len(mapping.courses),
        config={k.upper(): v for k, v in config.items()})
