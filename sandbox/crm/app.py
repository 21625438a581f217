"""The CRM sandbox application: store, reference data, application users, HTTP layer."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from cryptography import x509

from p2c.sandbox.crm.protection import Limits, ServiceProtection
from p2c.sandbox.crm.refdata import ensure_reference_data
from p2c.sandbox.crm.service import API_PATH, CrmService
from p2c.sandbox.crm.store import CrmStore, Tenant, application_user_id
from p2c.sandbox.odata import errors as codes
from p2c.sandbox.odata.auth import Authority
from p2c.sandbox.odata.errors import ODataError
from p2c.sandbox.odata.http import build_app
from p2c.sandbox.odata.ratelimit import RateLimiter

DEFAULT_DELTA_TTL_S = 7 * 24 * 3600


def open_store(data_dir: Path, tenant: Tenant | None = None) -> CrmStore:
    """The CRM store in ``data_dir``, with its reference data; a new one starts as ``tenant`` describes."""
    store = CrmStore(data_dir, tenant)
    ensure_reference_data(store)
    return store


def throttled(limit: int, wait: int) -> ODataError:
    return ODataError(
        429,
        f"Number of requests exceeded the limit of {limit} over time window of 1 seconds.",
        codes.REQUESTS_THROTTLED,
    )


def create_app(
    data_dir: Path,
    clients: dict[str, str],
    rate_limit: int | None = None,
    delta_ttl_s: float = DEFAULT_DELTA_TTL_S,
    *,
    certificates: dict[str, x509.Certificate] | None = None,
    tenant: Tenant | None = None,
    protection: float | None = None,
) -> tuple[web.Application, CrmStore]:
    """The CRM application; ``protection`` turns Dataverse's service protection on at that scale (1.0: as
    documented)."""
    store = open_store(data_dir, tenant)
    for client_id in [*clients, *(certificates or {})]:
        store.ensure_user(application_user_id(client_id), f"# {client_id} (application user)", client_id)
    authority = Authority(clients, Path(data_dir) / "token.key", audience="crm", certificates=certificates)
    service = CrmService(store, delta_ttl_s)
    guard = ServiceProtection(Limits().scaled(protection)) if protection else None
    app = build_app(service, authority, RateLimiter(rate_limit), throttled, guard)
    app.on_cleanup.append(lambda _app: _close(store))
    return app, store


async def _close(store: CrmStore) -> None:
    store.close()


__all__ = ["API_PATH", "Tenant", "create_app", "open_store"]
