"""The control process: the API and the console on one aiohttp server, loopback by default."""

from __future__ import annotations

import asyncio
import logging
import signal

from aiohttp import web

from p2c.control import api, console, trace_web
from p2c.control.overview import OVERVIEW, Overview
from p2c.settings import KafkaSettings

log = logging.getLogger("p2c.control")

DEFAULT_PORT = 8780


def make_app(kafka: KafkaSettings) -> web.Application:
    app = web.Application(middlewares=[api.errors])
    app[OVERVIEW] = Overview(kafka)
    app[trace_web.KAFKA] = kafka
    api.add_routes(app)
    console.add_routes(app)
    return app


async def _serve(kafka: KafkaSettings, host: str, port: int) -> None:
    runner = web.AppRunner(make_app(kafka), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    log.info("control API and console on http://%s:%d/ (API description: /api/openapi.json) ready", host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("control stopping")
    await runner.cleanup()


def serve(kafka: KafkaSettings, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> None:
    """Serve until SIGINT or SIGTERM."""
    if host not in ("127.0.0.1", "::1", "localhost"):
        log.warning("control listens on %s: it has no authentication of its own; put it behind one", host)
    asyncio.run(_serve(kafka, host, port))
