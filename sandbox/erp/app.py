"""The ERP sandbox application: store, reference data, HTTP layer."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from p2c.sandbox.erp.service import API_PATH, DEFAULT_BATCH_PARTS, ErpService
from p2c.sandbox.erp.store import ErpStore
from p2c.sandbox.odata.auth import Authority
from p2c.sandbox.odata.errors import ODataError
from p2c.sandbox.odata.http import build_app
from p2c.sandbox.odata.ratelimit import RateLimiter


def open_store(data_dir: Path) -> ErpStore:
    """The ERP store in ``data_dir``, with its reference data."""
    return ErpStore(data_dir)


def throttled(limit: int, wait: int) -> ODataError:
    return ODataError(429, f"Request throttled: more than {limit} requests per second. Retry after {wait} seconds.")


def create_app(
    data_dir: Path,
    clients: dict[str, str],
    rate_limit: int | None = None,
    *,
    business_errors: int = 400,
    max_batch_parts: int = DEFAULT_BATCH_PARTS,
) -> tuple[web.Application, ErpStore]:
    store = open_store(data_dir)
    authority = Authority(clients, Path(data_dir) / "token.key", audience="erp")
    service = ErpService(store, business_errors=business_errors, max_batch_parts=max_batch_parts)
    app = build_app(service, authority, RateLimiter(rate_limit), throttled)

    async def close(_app: web.Application) -> None:
        store.close()

    app.on_cleanup.append(close)
    return app, store


__all__ = ["API_PATH", "create_app", "open_store"]
