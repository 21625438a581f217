"""The CRM products sink under Dataverse service protection (the sandbox's limits, tiny, in-process): batches
and concurrency start small, grow, shrink on 429; nothing is sent before Retry-After; everything is written."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx

from p2c.connectors.core.http import ODataClient
from p2c.connectors.core.pace import Pace, Throttle
from p2c.connectors.core.retry import RetryPolicy
from p2c.connectors.core.versions import VersionStore
from p2c.connectors.dataverse.pricing import Bindings
from p2c.connectors.dataverse.sink import ProductSink
from p2c.sandbox.crm.protection import Limits, ServiceProtection
from p2c.sandbox.odata.service import Response

from . import sandboxes
from .test_product_sink import rows, write


def protected(crm: sandboxes.InProcess, guard: ServiceProtection) -> ODataClient:
    """A client whose requests pass the service protection first, as the sandbox's HTTP layer does. Until the
    first refusal an admitted request stays in flight until the next one arrives (at most a second), so requests
    sent together overlap whatever the machine's load."""
    lock, arrived = threading.Lock(), threading.Condition()
    arrivals, refused = [0], [0]

    def handle(request: httpx.Request) -> httpx.Response:
        with arrived:
            arrivals[0] += 1
            mine = arrivals[0]
            arrived.notify_all()
            refusal = guard.admit("p2c")
            if refusal is not None:
                refused[0] += 1
            elif not refused[0]:
                arrived.wait_for(lambda: arrivals[0] > mine, timeout=1.0)
        if refusal is not None:
            resp = Response.error(refusal)
            return httpx.Response(resp.status, headers=resp.headers, content=resp.body)
        started = time.perf_counter()
        try:
            with lock:
                return crm.handle(request)
        finally:
            with arrived:
                guard.release("p2c", (time.perf_counter() - started) * 1000)

    return ODataClient(sandboxes.CRM_ROOT, transport=httpx.MockTransport(handle), retry=RetryPolicy(max_attempts=None))


def test_the_sink_keeps_to_service_protection_and_writes_everything(tmp_path: Path) -> None:
    crm = sandboxes.crm(tmp_path)[0]
    guard = ServiceProtection(Limits(requests=1000, execution_ms=1e9, concurrency=1, window_s=1.0))
    client = protected(crm, guard)
    pace = Pace(size=4, concurrency=1, max_size=200, max_concurrency=4)
    versions = VersionStore(tmp_path / "versions", "products")
    sink = ProductSink(client, versions, bindings=Bindings(crm.client(), min_reload=0.0), pace=pace)
    result = sink.write([write(f"P-{i}", 1) for i in range(60)])
    assert len(result.written) == 60 and not result.rejected
    assert len(rows(crm, "products", **{"$filter": "statecode eq 0"})) == 60  # all published
    assert client.throttle.throttled > 0, "the limits were met"
    assert guard.early_requests == 0, "a request went before its Retry-After"


def test_pace_grows_and_shrinks_within_bounds() -> None:
    pace = Pace(size=10, concurrency=1, max_size=30, max_concurrency=2)
    pace.grow()
    pace.grow()
    assert (pace.size, pace.concurrency) == (30, 2)
    pace.shrink()
    pace.shrink()
    pace.shrink()
    assert (pace.size, pace.concurrency) == (3, 1)


def test_the_throttle_holds_every_request_until_retry_after() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    throttle = Throttle(clock=lambda: now[0], sleep=sleep)
    throttle.wait()
    throttle.block(3.0)
    throttle.block(1.0)  # a shorter wait never shortens the one in force
    throttle.wait()
    assert slept == [3.0] and now[0] == 3.0 and throttle.throttled == 2
