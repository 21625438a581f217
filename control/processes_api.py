"""``GET /api/processes`` and ``GET /api/processes/{instance}/health`` (control/processes.py)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from p2c.control.processes import read_processes
from p2c.control.trace_web import KAFKA


async def list_processes(request: web.Request) -> web.Response:
    every = request.query.get("all", "") in ("1", "true")
    procs = await asyncio.to_thread(read_processes, request.app[KAFKA], running=not every)
    return web.json_response({"processes": procs})


async def process_health(request: web.Request) -> web.Response:
    instance = request.match_info["instance"]
    procs = await asyncio.to_thread(read_processes, request.app[KAFKA], running=False)
    found = next((p for p in procs if p["instance"] == instance), None)
    if found is None:
        known = ", ".join(p["instance"] for p in procs if p["live"]) or "none running"
        return web.json_response({"error": f"no process {instance!r} (running: {known})"}, status=404)
    body = {"instance": instance, "ready": found["ready"], "why_not": found["why_not"]}
    return web.json_response(body, status=200 if found["ready"] else 503)
