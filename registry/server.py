"""Running the registry: rebuild the state from the log, then serve HTTP until told to stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from aiohttp import web

from p2c.registry.api import make_app
from p2c.registry.core import Registry
from p2c.registry.store import Store

log = logging.getLogger("p2c.registry")


async def serve(store: Store, host: str, port: int, stop: asyncio.Event | None = None) -> None:
    """Serve ``store``'s registry on ``host``:``port`` until ``stop`` is set (or SIGINT / SIGTERM)."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        # Not possible off the main thread or on non-Unix loops: then the caller sets ``stop``.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    registry = Registry(store)
    log.info("schema registry starting: reading the log")
    count = await registry.start()
    log.info(
        "state rebuilt from %d records: %d subjects, %d schemas",
        count,
        len(registry.subjects()),
        len(registry.state.schemas),
    )
    runner = web.AppRunner(make_app(registry), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        for address in runner.addresses:
            log.info("listening on http://%s:%d", address[0], address[1])
        log.info("ready")
        await stop.wait()
        log.info("stopping")
    finally:
        await runner.cleanup()
        await registry.close()
