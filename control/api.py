"""The control API: JSON over HTTP (aiohttp), described by the OpenAPI document it serves.

Every route is one entry of ``ROUTES``; ``/api/openapi.json`` is built from that same table, so the
description cannot drift from what is served. Kafka is read through blocking clients, so handlers run the
library calls (control/overview.py, control/deadletters.py) in a thread. Errors answer JSON
``{"error": "..."}``: 404 an unknown flow or letter, 409 a letter not in a state for the action, 400 bad
input, 503 Kafka not reachable.

Routes for replay, reconcile and a record's trace come with issue 10; they slot in as entries of ``ROUTES``.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from p2c.control import reconciles, replays
from p2c.control.deadletters import NotFound, Refused
from p2c.control.lifecycle import STATES
from p2c.control.overview import OVERVIEW, Overview
from p2c.control.processes import exposition as process_exposition
from p2c.control.processes import processes
from p2c.control.processes_api import list_processes, process_health
from p2c.control.prometheus import CONTENT_TYPE, exposition
from p2c.control.trace_web import trace_api
from p2c.control.waits import waited_on_by
from p2c.errors import P2CError, RetriableError
from p2c.flows import NAMES

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    summary: str
    handler: Handler
    responses: dict[str, str]
    parameters: tuple[dict[str, Any], ...] = ()
    body: dict[str, Any] | None = None
    tags: tuple[str, ...] = field(default=("api",))


async def blocking(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, lambda: func(*args, **kwargs))


def answer(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda d: json.dumps(d, indent=2))


def error_status(exc: Exception) -> int:
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Refused):
        return 409
    if isinstance(exc, RetriableError):
        return 503
    return 400


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except P2CError as exc:
        return answer({"error": str(exc)}, error_status(exc))


def overview(request: web.Request) -> Overview:
    return request.app[OVERVIEW]


def by(request: web.Request, body: dict[str, Any]) -> str:
    return str(body.get("by") or request.headers.get("X-P2C-User") or f"api@{request.remote}")


async def json_body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except json.JSONDecodeError as exc:
        raise web.HTTPBadRequest(text=json.dumps({"error": f"the body is not JSON: {exc}"})) from exc
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text=json.dumps({"error": "the body must be a JSON object"}))
    return body


async def health(request: web.Request) -> web.Response:
    ready, reasons = await blocking(overview(request).health)
    return answer({"ready": ready, "reasons": reasons}, 200 if ready else 503)


async def flows(request: web.Request) -> web.Response:
    snapshot = await blocking(overview(request).snapshot)
    return answer({"flows": snapshot.flows(), "components": snapshot.components()})


async def flow(request: web.Request) -> web.Response:
    name = request.match_info["flow"]
    snapshot = await blocking(overview(request).snapshot)
    for entry in snapshot.flows():
        if entry["flow"] == name:
            return answer(entry)
    raise NotFound(f"no flow {name!r} (flows: {', '.join(NAMES)})")


def _choices(request: web.Request, name: str, allowed: tuple[str, ...]) -> list[str]:
    values = [v for raw in request.query.getall(name, []) for v in raw.split(",") if v]
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise NotFound(f"unknown {name} {', '.join(unknown)} (one of: {', '.join(allowed)})")
    return values


async def list_dead_letters(request: web.Request) -> web.Response:
    chosen, states = _choices(request, "flow", NAMES), _choices(request, "state", STATES)
    entries = await blocking(overview(request).dead_letters.entries, chosen or None, states or None)
    waiting = waited_on_by(entries, await blocking(overview(request).waits))
    return answer({"dead_letters": [e.as_json() | {"waited_on_by": waiting.get(e.id, [])} for e in entries]})


async def show_dead_letter(request: web.Request) -> web.Response:
    letter, entry = await blocking(overview(request).dead_letters.get, request.match_info["id"])
    value = letter.letter.value or b""
    return answer(entry.as_json() | {"value_base64": base64.b64encode(value).decode(), "value_bytes": len(value)})


async def retry_dead_letter(request: web.Request) -> web.Response:
    body = await json_body(request)
    results = await blocking(overview(request).dead_letters.retry, [request.match_info["id"]], by=by(request, body))
    overview(request).forget()
    return answer({"retried": [r.__dict__ for r in results]})


async def retry_dead_letters(request: web.Request) -> web.Response:
    body = await json_body(request)
    chosen = body.get("flows") or NAMES
    unknown = sorted(set(chosen) - set(NAMES))
    if unknown:
        raise NotFound(f"unknown flow {', '.join(unknown)} (flows: {', '.join(NAMES)})")
    results = await blocking(overview(request).dead_letters.retry, flows=chosen, by=by(request, body))
    overview(request).forget()
    return answer({"retried": [r.__dict__ for r in results]})


async def discard_dead_letter(request: web.Request) -> web.Response:
    body = await json_body(request)
    entry = await blocking(
        overview(request).dead_letters.discard, request.match_info["id"], str(body.get("note", "")), by(request, body)
    )
    overview(request).forget()
    return answer(entry.as_json())


async def metrics(request: web.Request) -> web.Response:
    ready, _ = await blocking(overview(request).health)
    snapshot = await blocking(overview(request).snapshot)
    procs = processes(snapshot.report.snapshots)
    text = exposition(snapshot, ready) + process_exposition(procs)
    return web.Response(body=text.encode(), headers={"Content-Type": CONTENT_TYPE})


async def openapi(request: web.Request) -> web.Response:
    from p2c.control.openapi import document

    return answer(document(ROUTES))


def _query(name: str, values: tuple[str, ...], text: str) -> dict[str, Any]:
    items = {"type": "string", "enum": values}
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": text,
        "explode": True,
        "schema": {"type": "array", "items": items},
    }


FLOW_PATH = {"name": "flow", "in": "path", "required": True, "schema": {"type": "string", "enum": NAMES}}
ID_PATH = {
    "name": "id",
    "in": "path",
    "required": True,
    "description": "<flow>.<partition>.<offset>",
    "schema": {"type": "string"},
}
RUN_PATH = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
BY = {"by": {"type": "string", "description": "who did it (default: X-P2C-User, else the caller's address)"}}

ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/openapi.json", "This description of the API.", openapi, {"200": "the OpenAPI 3.1 document"}),
    Route(
        "GET", "/api/health", "Ready, or the reasons why not.", health, {"200": "ready", "503": "not ready, and why"}
    ),
    Route(
        "GET",
        "/api/flows",
        "Every flow's figures and the components' liveness (what `p2c status` prints).",
        flows,
        {"200": "flows and components", "503": "Kafka not reachable"},
    ),
    Route(
        "GET",
        "/api/flows/{flow}",
        "One flow's figures: in, written, waiting and on what, skipped, lag, dead letters by state.",
        flow,
        {"200": "the flow", "404": "no such flow"},
        (FLOW_PATH,),
    ),
    Route(
        "GET",
        "/api/dead-letters",
        "Dead letters with their state (what `p2c dlq list` prints).",
        list_dead_letters,
        {"200": "the dead letters, oldest first", "404": "unknown flow or state"},
        (_query("flow", NAMES, "only these flows"), _query("state", STATES, "only these states")),
    ),
    Route(
        "POST",
        "/api/dead-letters/retry",
        "Send back the newest open letter of each key (`p2c dlq retry`).",
        retry_dead_letters,
        {"200": "the letters sent back and where to"},
        body={"flows": {"type": "array", "items": {"type": "string", "enum": NAMES}}} | BY,
    ),
    Route(
        "GET",
        "/api/dead-letters/{id}",
        "One dead letter, with its original bytes (`p2c dlq show`).",
        show_dead_letter,
        {"200": "the letter", "404": "no such letter"},
        (ID_PATH,),
    ),
    Route(
        "POST",
        "/api/dead-letters/{id}/retry",
        "Send one letter back to the topic it was read from.",
        retry_dead_letter,
        {
            "200": "where it went",
            "404": "no such letter",
            "409": "not the newest open letter of its key, or dead-lettered by a source",
        },
        (ID_PATH,),
        BY,
    ),
    Route(
        "POST",
        "/api/dead-letters/{id}/discard",
        "Put a letter aside for good, with a note (`p2c dlq discard`).",
        discard_dead_letter,
        {"200": "the letter, discarded", "404": "no such letter", "409": "no note, or already discarded"},
        (ID_PATH,),
        {"note": {"type": "string", "description": "why (required)"}} | BY,
    ),
    Route(
        "GET",
        "/api/flows/{flow}/trace/{key}",
        "A record's trace (`p2c trace`): its changes, writes, the sink, what it waits on, its dead letters.",
        trace_api,
        {"200": "the trace", "404": "no such flow, or no record with that key on its topics"},
        (
            FLOW_PATH,
            {
                "name": "key",
                "in": "path",
                "required": True,
                "description": "an id or a value of the row",
                "schema": {"type": "string"},
            },
        ),
    ),
    Route(
        "POST",
        "/api/reconciles",
        "Start a reconcile (`p2c reconcile`): both systems read through their APIs, every difference listed.",
        reconciles.start_api,
        {"202": "the run, started: follow it at /api/reconciles/{id}", "400": "an unknown flow"},
        body={"flows": {"type": "array", "items": {"type": "string", "enum": NAMES}, "description": "default: all"}},
    ),
    Route("GET", "/api/reconciles", "The last reconciles, with their outcome.", reconciles.list_api, {"200": "runs"}),
    Route(
        "GET",
        "/api/reconciles/{id}",
        "A reconcile: its progress (state, stage, done/total), then its report (per flow, the differences).",
        reconciles.show_api,
        {"200": "the run", "404": "no such run"},
        (RUN_PATH,),
    ),
    Route(
        "POST",
        "/api/replays",
        "Start a replay (`p2c replay`): one flow's consumer group rewound at one stage while p2c runs.",
        replays.start_api,
        {"202": "the run, started: follow it at /api/replays/{id}", "400": "a bad flow, from or stage"},
        body={
            "flow": {"type": "string", "enum": NAMES},
            "from": {"type": "string", "description": "earliest, an offset, or an ISO 8601 time"},
            "stage": {"type": "string", "enum": ["streams", "sink"], "description": "default: streams"},
        },
    ),
    Route("GET", "/api/replays", "The last replays, with their progress.", replays.list_api, {"200": "runs"}),
    Route(
        "GET",
        "/api/replays/{id}",
        "A replay: its state (planning, rewinding, replaying, done, failed) and records read again of the total.",
        replays.show_api,
        {"200": "the run", "404": "no such run"},
        (RUN_PATH,),
    ),
    Route(
        "GET",
        "/api/processes",
        "Every running process (`?all=1`: also stopped ones): ready or why not, API calls and throttling per "
        "system, records per second, its sources' last polls.",
        list_processes,
        {"200": "the processes", "503": "Kafka not reachable"},
    ),
    Route(
        "GET",
        "/api/processes/{instance}/health",
        "One process's health: 200 ready, 503 not, with why (instance: <component>@<host>:<pid>).",
        process_health,
        {"200": "ready", "503": "not ready, and why", "404": "no such process"},
        ({"name": "instance", "in": "path", "required": True, "schema": {"type": "string"}},),
    ),
    Route(
        "GET",
        "/metrics",
        "Prometheus text exposition: per flow lag, waiting, dead letters; per component liveness.",
        metrics,
        {"200": "text/plain; version=0.0.4"},
        tags=("metrics",),
    ),
)


def add_routes(app: web.Application) -> None:
    for route in ROUTES:
        app.router.add_route(route.method, route.path, route.handler)
