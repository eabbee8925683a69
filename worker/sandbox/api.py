"""The simulated Onefile endpoints under ``/api/v2.1``.

Every endpoint runs behind one guard, in this order: the rate limit (counted at arrival,
before anything else; a 429 consumes no quota), ``down`` (503), authentication (401), the
fault draw, ``latency_ms``, and only then the handler. Handlers are thin: they parse the
request, call :class:`~worker.sandbox.state.State` and shape the answer.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Awaitable, Callable
from enum import Enum
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from worker.sandbox.faults import Fault
from worker.sandbox.runtime import Sandbox
from worker.sandbox.state import Invalid, NotFound
from worker.sandbox.window import SlidingWindow

BASE_PATH = "/api/v2.1"
DENIED = "Authorization has been denied for this request."
#: The key ``calls_by_endpoint`` counts calls to paths that match no endpoint under.
UNKNOWN_ENDPOINT = "(unknown)"

Handler = Callable[[Request, Sandbox], Awaitable[Response]]


class Kind(Enum):
    AUTH = "auth"
    SEARCH = "search"
    ASSIGN = "assign"
    UNROUTED = "unrouted"  # counted and limited like any call, then 404 without auth


def error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"Message": message}, status_code=status, headers=headers)


def results(items: list[dict[str, Any]]) -> Response:
    """An array, or Onefile's ``204 No Content`` when a search (page) found nothing."""
    return JSONResponse(items) if items else Response(status_code=204)


async def json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise Invalid("The request body is not valid JSON.") from exc
    if not isinstance(body, dict):
        raise Invalid("The request body must be a JSON object.")
    return body


def optional_int(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)  # Onefile clients send some IDs as strings
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(f"{key} must be an integer.")
    return value


def optional_str(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise Invalid(f"{key} must be a string.")
    return str(value)


def path_int(request: Request, name: str) -> int:
    try:
        return int(request.path_params[name])
    except ValueError as exc:
        raise Invalid(f"{name} must be an integer.") from exc


def paging(request: Request) -> tuple[int, int]:
    return path_int(request, "pageNumber"), path_int(request, "pageSize")


# -- handlers -------------------------------------------------------------------------------


async def authenticate(request: Request, sandbox: Sandbox) -> Response:
    return PlainTextResponse(sandbox.tokens.issue())


async def template_search(request: Request, sandbox: Sandbox) -> Response:
    body = await json_body(request)
    org, title = optional_int(body, "OrganisationID"), optional_str(body, "Title")
    return results(sandbox.state.search_templates(org, title))


async def template_assign(request: Request, sandbox: Sandbox) -> Response:
    only = str(request.path_params["onlyChangeAssigned"]).lower()
    if only not in ("true", "false"):
        raise Invalid("onlyChangeAssigned must be true or false.")
    params = request.path_params
    sandbox.state.assign_template(params["id"], params["userId"], only == "true")
    return Response(status_code=204)


async def standard_search(request: Request, sandbox: Sandbox) -> Response:
    body = await json_body(request)
    org, title = optional_int(body, "OrganisationID"), optional_str(body, "Title")
    return results(sandbox.state.search_standards(org, title))


async def standard_assign(request: Request, sandbox: Sandbox) -> Response:
    params = request.path_params
    return JSONResponse(sandbox.state.assign_standard(params["id"], params["learnerId"]))


async def unit_search(request: Request, sandbox: Sandbox) -> Response:
    body = await json_body(request)
    return results(sandbox.state.search_units(optional_int(body, "StandardID")))


async def unit_assign(request: Request, sandbox: Sandbox) -> Response:
    p = request.path_params
    return JSONResponse(sandbox.state.assign_unit(p["id"], p["learnerId"], p["standardId"]))


async def aim_search(request: Request, sandbox: Sandbox) -> Response:
    number, size = paging(request)
    body = await json_body(request)
    return results(sandbox.state.search_aims(optional_int(body, "UserID"), number, size))


async def unit_summary_search(request: Request, sandbox: Sandbox) -> Response:
    number, size = paging(request)
    body = await json_body(request)
    user_id = optional_int(body, "UserID")
    return results(sandbox.state.search_unit_summaries(user_id, number, size))


async def user_search(request: Request, sandbox: Sandbox) -> Response:
    number, size = paging(request)
    body = await json_body(request)
    found = sandbox.state.search_users(
        number,
        size,
        organisation_id=optional_int(body, "OrganisationID"),
        misid=optional_str(body, "MISID"),
        first_name=optional_str(body, "FirstName"),
        last_name=optional_str(body, "LastName"),
    )
    return results(found)


async def unknown(request: Request, sandbox: Sandbox) -> Response:
    return error(404, f"No HTTP resource was found that matches the request URI '{request.url}'.")


# -- the guard ------------------------------------------------------------------------------


async def _run(handler: Handler, request: Request, sandbox: Sandbox) -> Response:
    try:
        return await handler(request, sandbox)
    except NotFound as exc:
        return error(404, str(exc))
    except Invalid as exc:
        return error(400, str(exc))


def _authorised(request: Request, sandbox: Sandbox, kind: Kind) -> bool:
    if kind is Kind.AUTH:
        offered = request.headers.get("x-customertoken", "").encode()
        return hmac.compare_digest(offered, sandbox.config.customer_token.encode())
    return sandbox.tokens.is_valid(request.headers.get("x-tokenid"))


def guarded(name: str, kind: Kind, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Wrap ``handler`` in the rate limit, outage, authentication and fault injection."""

    async def endpoint(request: Request) -> Response:
        sandbox: Sandbox = request.app.state.sandbox
        wait_s = sandbox.admit(name)
        if wait_s is not None:
            headers = None
            if sandbox.config.retry_after:
                headers = {"Retry-After": SlidingWindow.retry_after_header(wait_s)}
            return error(429, "Too Many Requests", headers)
        if kind is Kind.UNROUTED:
            return await handler(request, sandbox)
        faults = sandbox.faults
        if faults.config.down:
            faults.record(Fault.DOWN)
            return error(503, "The service is unavailable.")
        if not _authorised(request, sandbox, kind):
            return error(401, "Invalid customer token." if kind is Kind.AUTH else DENIED)
        fault = None if kind is Kind.AUTH else faults.draw(assign=kind is Kind.ASSIGN)
        if faults.config.latency_ms:
            await asyncio.sleep(faults.config.latency_ms / 1000)
        if fault is Fault.ERROR:
            faults.record(fault)
            return error(500, "An error has occurred.")
        if fault is Fault.TIMEOUT:
            faults.record(fault)
            if kind is Kind.ASSIGN and faults.timed_out_call_applies():
                await _run(handler, request, sandbox)
            await asyncio.sleep(faults.config.hang_s)
            return error(500, "An error has occurred.")
        response = await _run(handler, request, sandbox)
        if fault is Fault.APPLY_THEN_FAIL and response.status_code < 400:
            faults.record(fault)
            return error(500, "An error has occurred.")
        return response

    return endpoint


_ENDPOINTS: list[tuple[str, str, Kind, Handler]] = [
    ("Authentication", "Authentication", Kind.AUTH, authenticate),
    ("FrameworkTemplate/Search", "FrameworkTemplate/Search", Kind.SEARCH, template_search),
    (
        "FrameworkTemplate/{id:int}/Assign/{userId:int}/{onlyChangeAssigned}",
        "FrameworkTemplate/Assign",
        Kind.ASSIGN,
        template_assign,
    ),
    ("Standard/Search", "Standard/Search", Kind.SEARCH, standard_search),
    ("Standard/{id:int}/Assign/{learnerId:int}", "Standard/Assign", Kind.ASSIGN, standard_assign),
    ("Unit/Search", "Unit/Search", Kind.SEARCH, unit_search),
    (
        "Unit/{id:int}/Assign/{learnerId:int}/{standardId:int}",
        "Unit/Assign",
        Kind.ASSIGN,
        unit_assign,
    ),
    ("LearningAim/Search/{pageNumber}/{pageSize}", "LearningAim/Search", Kind.SEARCH, aim_search),
    (
        "UnitSummary/Search/{pageNumber}/{pageSize}",
        "UnitSummary/Search",
        Kind.SEARCH,
        unit_summary_search,
    ),
    ("User/Search/{pageNumber}/{pageSize}", "User/Search", Kind.SEARCH, user_search),
]

_ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def api_routes() -> list[Route]:
    """The endpoints, then a catch-all that counts (and limits) unknown paths as 404s."""
    routes = [
        Route(f"{BASE_PATH}/{path}", guarded(name, kind, handler), methods=["POST"], name=name)
        for path, name, kind, handler in _ENDPOINTS
    ]
    catch_all = guarded(UNKNOWN_ENDPOINT, Kind.UNROUTED, unknown)
    routes.append(Route(f"{BASE_PATH}/{{rest:path}}", catch_all, methods=_ALL_METHODS))
    return routes
