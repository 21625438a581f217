"""A record's trace over HTTP: ``GET /api/flows/{flow}/trace/{key}`` (JSON) and the console's ``/trace`` page.

The same code as ``p2c trace`` (control/trace.py). The schema registry is the one the components use
(``P2C_SCHEMA_REGISTRY_URL``: ``p2c up`` sets it for the control it starts).
"""

from __future__ import annotations

import asyncio
from html import escape
from typing import Any

from aiohttp import web

from p2c.control.trace import templates_of, trace
from p2c.control.trace_cli import render
from p2c.flows import NAMES
from p2c.reachable import require_kafka
from p2c.serde import Codecs
from p2c.settings import KafkaSettings, RegistrySettings

KAFKA: web.AppKey[KafkaSettings] = web.AppKey("kafka", KafkaSettings)


def _trace(kafka: KafkaSettings, flow: str, key: str) -> dict[str, Any]:
    require_kafka(kafka)
    return trace(kafka, Codecs.from_settings(RegistrySettings()), flow, key, templates_of(flow)).as_json()


async def trace_api(request: web.Request) -> web.Response:
    flow, key = request.match_info["flow"], request.match_info["key"]
    if flow not in NAMES:
        return web.json_response({"error": f"no flow {flow!r} (flows: {', '.join(NAMES)})"}, status=404)
    found = await asyncio.to_thread(_trace, request.app[KAFKA], flow, key)
    return web.json_response(found, status=200 if found["found"] else 404)


def form(flow: str, key: str) -> str:
    options = "".join(f"<option{' selected' if n == flow else ''}>{n}</option>" for n in NAMES)
    return (
        '<form method="get" action="/trace"><select name="flow">'
        f'{options}</select> <input type="text" name="key" value="{escape(key)}" placeholder="id or number"> '
        '<button type="submit">Trace</button></form>'
    )


async def trace_page(request: web.Request) -> web.Response:
    from p2c.control.console import page  # the console's frame (the console imports this module's routes)

    flow, key = request.query.get("flow", NAMES[0]), request.query.get("key", "").strip()
    body = form(flow, key)
    if key and flow in NAMES:
        found = await asyncio.to_thread(_trace, request.app[KAFKA], flow, key)
        body += f'<pre id="trace">{escape(render(found))}</pre>'
    return page("Trace a record", body)
