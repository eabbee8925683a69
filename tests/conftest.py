"""Shared pytest plugins. Fixtures live in their own modules; this file only registers them."""

pytest_plugins = ["tests.sandbox_fixture", "tests.worker_fixture"]
