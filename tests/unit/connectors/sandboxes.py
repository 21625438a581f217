"""The sandbox services in-process behind ``httpx.MockTransport``: connectors talk to the real CRM and ERP
request handling (SQLite in a temporary directory) without sockets or processes."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

import httpx

from p2c.connectors.core.http import ODataClient
from p2c.sandbox.crm.app import Tenant
from p2c.sandbox.crm.app import open_store as open_crm
from p2c.sandbox.crm.service import CrmService
from p2c.sandbox.erp.service import ErpService
from p2c.sandbox.erp.store import ErpStore
from p2c.sandbox.odata.service import Request, Service

from .fakes import FAST

ERP_ROOT = "http://erp.test/data/"
CRM_ROOT = "http://crm.test/api/data/v9.2/"


class InProcess:
    """A sandbox service and an ODataClient wired to it; ``requests`` counts (method, path) pairs."""

    def __init__(self, service: Service, root: str, client_id: str = "p2c") -> None:
        self.service = service
        self.root = root
        self.client_id = client_id
        self.requests: list[tuple[str, str]] = []
        self.fail_next: list[int] = []  # statuses to answer the next requests with (429, 503, ...)
        self.state_dir = Path()  # where a test's sinks keep their applied versions

    def handle(self, request: httpx.Request) -> httpx.Response:
        api = self.service.api_path
        path = request.url.path
        rel = unquote(path[len(api) :]) if path.startswith(api) else ""
        self.requests.append((request.method, rel))
        if self.fail_next:
            return httpx.Response(self.fail_next.pop(0), headers={"Retry-After": "0"})
        query = dict(parse_qsl(request.url.query.decode(), keep_blank_values=True))
        req = Request(
            request.method,
            rel,
            query,
            {k.lower(): v for k, v in request.headers.items()},
            request.content,
            self.client_id,
            f"{request.url.scheme}://{request.url.host}{api}",
        )
        resp = self.service.handle(req)
        return httpx.Response(resp.status, headers=resp.headers, content=resp.body)

    def client(self) -> ODataClient:
        return ODataClient(self.root, transport=httpx.MockTransport(self.handle), retry=FAST)

    def count(self, method: str, prefix: str) -> int:
        return sum(1 for m, p in self.requests if m == method and p.startswith(prefix))


def erp(tmp: Path, **service: Any) -> tuple[InProcess, ErpStore]:
    """The ERP sandbox; ``service`` options as ErpService takes them (business_errors, max_batch_parts)."""
    store = ErpStore(tmp / "erp")
    return InProcess(ErpService(store, **service), ERP_ROOT), store


def crm(tmp: Path, client_id: str = "p2c", tenant: Tenant | None = None) -> tuple[InProcess, Any]:
    store = open_crm(tmp / "crm", tenant)
    return InProcess(CrmService(store, 3600.0), CRM_ROOT, client_id), store
