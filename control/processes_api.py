"""``GET /api/processes`` and ``GET /api/processes/{instance}/health`` (control/processes.py).

Both read the processes' snapshots through the control's :class:`~p2c.control.overview.Overview`, which tails
``p2c.metrics`` and caches a second: the topic is not read whole on every request.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from p2c.control.overview import OVERVIEW
from p2c.control.processes import processes


async def _processes(request: web.Request, *, running: bool) -> list[dict[str, Any]]:
    snapshot = await asyncio.to_thread(request.app[OVERVIEW].snapshot)
    return processes(snapshot.report.snapshots, running=running)


async def list_processes(request: web.Request) -> web.Response:
    every = request.query.get("all", "") in ("1", "true")
    return web.json_response({"processes": await _processes(request, running=not every)})


async def process_health(request: web.Request) -> web.Response:
    instance = request.match_info["instance"]
    procs = await _processes(request, running=False)
    found = next((p for p in procs if p["instance"] == instance), None)
    if found is None:
        known = ", ".join(p["instance"] for p in procs if p["live"]) or "none running"
        return web.json_response({"error": f"no process {instance!r} (running: {known})"}, status=404)
    body = {"instance": instance, "ready": found["ready"], "why_not": found["why_not"]}
    return web.json_response(body, status=200 if found["ready"] else 503)
