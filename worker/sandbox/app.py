"""The sandbox's Starlette application: the Onefile API plus the ``/_sandbox`` admin routes.

Admin routes need no token and are never rate limited or counted, so tests and benchmarks
can watch and steer the sandbox without disturbing what they measure:

- ``GET /_sandbox/stats``: call counters, limiter peak, faults injected, assignments applied.
- ``GET|POST /_sandbox/faults``: read or change fault settings (JSON with any of the
  :class:`~worker.sandbox.faults.FaultConfig` fields); answers the full current settings.
- ``POST /_sandbox/reset``: back to start-up data, counters, tokens, window and faults.
- ``POST /_sandbox/expire-tokens``: every session token issued so far is expired now.
- ``GET /_sandbox/learners/{id}``: one learner with their aims and unit summaries.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from worker.sandbox.api import api_routes, error
from worker.sandbox.faults import FaultConfigError
from worker.sandbox.runtime import Sandbox, SandboxConfig
from worker.sandbox.seed import load_seed
from worker.sandbox.state import NotFound

ADMIN_PATH = "/_sandbox"


def _sandbox(request: Request) -> Sandbox:
    return request.app.state.sandbox


async def stats(request: Request) -> Response:
    return JSONResponse(_sandbox(request).stats())


async def faults(request: Request) -> Response:
    injector = _sandbox(request).faults
    if request.method == "POST":
        raw = await request.body()
        try:
            changes = json.loads(raw) if raw.strip() else {}
        except ValueError:
            return error(400, "The request body is not valid JSON.")
        if not isinstance(changes, dict):
            return error(400, "The request body must be a JSON object.")
        try:
            injector.configure(changes)
        except FaultConfigError as exc:
            return error(400, str(exc))
    return JSONResponse(injector.config.to_dict())


async def reset(request: Request) -> Response:
    _sandbox(request).reset()
    return Response(status_code=204)


async def expire_tokens(request: Request) -> Response:
    _sandbox(request).tokens.expire_all()
    return Response(status_code=204)


async def learner(request: Request) -> Response:
    try:
        view = _sandbox(request).state.learner_view(request.path_params["id"])
    except NotFound as exc:
        return error(404, str(exc))
    return JSONResponse(view)


def admin_routes() -> list[Route]:
    return [
        Route(f"{ADMIN_PATH}/stats", stats, methods=["GET"]),
        Route(f"{ADMIN_PATH}/faults", faults, methods=["GET", "POST"]),
        Route(f"{ADMIN_PATH}/reset", reset, methods=["POST"]),
        Route(f"{ADMIN_PATH}/expire-tokens", expire_tokens, methods=["POST"]),
        Route(f"{ADMIN_PATH}/learners/{{id:int}}", learner, methods=["GET"]),
    ]


def create_app(
    config: SandboxConfig,
    *,
    clock: Callable[[], float] = time.monotonic,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Starlette:
    """Build the app; a bad seed file raises :class:`~worker.sandbox.seed.SeedError`."""
    sandbox = Sandbox(config, load_seed(config.seed_file), clock=clock, now=now)
    app = Starlette(routes=[*admin_routes(), *api_routes()])
    app.state.sandbox = sandbox
    return app
