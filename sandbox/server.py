"""Run an aiohttp application until SIGINT or SIGTERM, logging one line per event."""

from __future__ import annotations

import asyncio
import logging
import signal
import ssl

from aiohttp import web

log = logging.getLogger("p2c.sandbox")


async def _serve(
    app: web.Application, host: str, port: int, ready: str, ssl_context: ssl.SSLContext | None = None
) -> None:
    # Long URLs: a $filter over a thousand keys is a normal request for a sink (Dataverse allows 32 KB).
    runner = web.AppRunner(app, access_log=None, handle_signals=False, max_line_size=65536, max_field_size=65536)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True, ssl_context=ssl_context)
    await site.start()
    log.info("ready: %s", ready)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
        log.info("stopping")
    finally:
        await runner.cleanup()
        log.info("stopped")


def serve(app: web.Application, host: str, port: int, ready: str, ssl_context: ssl.SSLContext | None = None) -> None:
    asyncio.run(_serve(app, host, port, ready, ssl_context))
