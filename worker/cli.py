"""The ``onefile-worker`` command: run, dlq list/replay, mapping check.

Exit codes: 0 success, 1 operational failure, 2 bad usage or configuration. Errors are
one readable line on stderr, never a traceback.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated, NoReturn

import typer

from worker.config import Settings, SettingsError, load_settings
from worker.errors import ConfigurationError, WorkerError
from worker.mapping import Mapping, MappingError, load_mapping

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="Assigns Onefile programmes to learners from RabbitMQ enrolment events.")
dlq_app = typer.Typer(no_args_is_help=True, help="Inspect and replay dead-lettered messages.")
mapping_app = typer.Typer(no_args_is_help=True, help="The course-code mapping file.")
app.add_typer(dlq_app, name="dlq")
app.add_typer(mapping_app, name="mapping")

REASONS = ("invalid_message", "unmapped_course", "onefile_rejected", "retries_exhausted")


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"onefile-worker: {message}", err=True)
    raise typer.Exit(code)


def _settings(**overrides: object) -> Settings:
    try:
        return load_settings(**overrides)
    except SettingsError as exc:
        fail(str(exc), 2)


def _mapping(settings: Settings) -> Mapping:
    try:
        return load_mapping(settings.mapping_file)
    except MappingError as exc:
        fail(str(exc), 2)


def _check_reason(reason: str | None) -> None:
    if reason is not None and reason not in REASONS:
        fail(f"--reason must be one of {', '.join(REASONS)}", 2)


@app.command()
def run(
    mapping_file: Annotated[str | None, typer.Option(help="Overrides MAPPING_FILE.")] = None,
    metrics_port: Annotated[int | None, typer.Option(help="Overrides METRICS_PORT.")] = None,
) -> None:
    """Declare the topology, consume enrolments, assign, publish; stop cleanly on SIGTERM."""
    from worker.logs import configure_logging
    from worker.service import Service
    from worker.startup import log_startup

    settings = _settings(mapping_file=mapping_file, metrics_port=metrics_port)
    mapping = _mapping(settings)
    configure_logging(settings.log_format, settings.log_level)
    log_startup(settings, mapping)
    try:
        asyncio.run(Service(settings, mapping).run())
    except ConfigurationError as exc:
        fail(f"cannot start: {exc}", 2)
    except (OSError, WorkerError) as exc:
        fail(f"cannot start: {exc}")
    except Exception as exc:  # the details are in the log; the operator gets one line
        import structlog

        structlog.get_logger("worker").exception("the worker stopped on an unexpected error")
        fail(f"stopped on an unexpected error: {type(exc).__name__}: {exc}")


@dlq_app.command("list")
def dlq_list(
    reason: Annotated[str | None, typer.Option(help="Only this x-failure-reason.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="One JSON object a line.")] = False,
) -> None:
    """Print dead-lettered messages without removing any."""
    from worker.dlq import list_dead_letters, print_dead_letters

    _check_reason(reason)
    settings = _settings_for_tools()
    _quiet_broker_logs()
    try:
        letters = asyncio.run(list_dead_letters(settings.amqp_url, reason=reason, limit=limit))
    except KeyboardInterrupt:
        fail("interrupted; every dead letter stays where it was")
    except Exception as exc:
        fail(f"cannot list dead letters: {exc}")
    print_dead_letters(letters, as_json=json_output)


@dlq_app.command("replay")
def dlq_replay(
    reason: Annotated[str | None, typer.Option(help="Only this x-failure-reason.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would move.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Move dead-lettered messages back to the work queue with a fresh attempt count."""
    from worker.dlq import replay_dead_letters

    _check_reason(reason)
    settings = _settings_for_tools()
    _quiet_broker_logs()
    try:
        moved = asyncio.run(replay_dead_letters(
            settings.amqp_url, reason=reason, limit=limit, dry_run=dry_run,
            progress=not json_output and sys.stderr.isatty()))
    except KeyboardInterrupt:
        fail("interrupted; what was not moved is still in the dead-letter queue")
    except Exception as exc:
        fail(f"replay stopped: {exc}")
    if json_output:
        typer.echo(f'{{"moved": {moved}, "dry_run": {"true" if dry_run else "false"}}}')
    else:
        typer.echo(f"{'would move' if dry_run else 'moved'} {moved} message(s)")


@mapping_app.command("check")
def mapping_check() -> None:
    """Check every template, standard and unit ID of the mapping against the Onefile API."""
    from worker.mapping_check import check_mapping

    settings = _settings()
    mapping = _mapping(settings)
    try:
        problems = asyncio.run(check_mapping(settings, mapping))
    except ConfigurationError as exc:
        fail(str(exc), 2)
    except Exception as exc:
        fail(f"cannot check the mapping: {exc}")
    if problems:
        typer.echo(f"{len(problems)} problem(s) in {settings.mapping_file}:")
        for problem in problems:
            typer.echo(f"- {problem}")
        raise typer.Exit(1)
    typer.echo(f"{settings.mapping_file}: {len(mapping.courses)} course(s), "
               "all IDs known to Onefile")


def _quiet_broker_logs() -> None:
    """The DLQ tools report a broker failure as one line: keep aio-pika's own log lines
    (printed by logging's last-resort handler when nothing is configured) off stderr."""
    import logging

    for name in ("aio_pika", "aiormq"):
        logging.getLogger(name).addHandler(logging.NullHandler())
        logging.getLogger(name).propagate = False


def _settings_for_tools() -> Settings:
    """The DLQ tools need only the broker: the customer token may be absent."""
    import os

    if not os.environ.get("ONEFILE_CUSTOMER_TOKEN"):
        return _settings(onefile_customer_token="unused-by-dlq-tools")
    return _settings()
