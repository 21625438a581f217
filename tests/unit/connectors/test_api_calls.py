"""Every API call is counted per system, a 429 with its Retry-After, and a process's health says why not."""

from __future__ import annotations

import httpx
import pytest

from p2c.connectors.core.http import ODataClient
from p2c.connectors.core.retry import RetryPolicy
from p2c.control.processes import describe
from p2c.errors import RetriableError
from p2c.metrics import Counters


def test_calls_throttling_and_failures_are_counted_per_system_and_explain_the_health() -> None:
    answers = iter(
        [
            httpx.Response(
                429, headers={"Retry-After": "0"}, json={"error": {"code": "0x80072322", "message": "slow"}}
            ),
            httpx.Response(200, json={"value": []}),
        ]
        + [httpx.Response(503, json={"error": {"code": "x", "message": "down"}})] * 3
    )
    metrics = Counters()
    client = ODataClient(
        "http://crm.test/api/data/v9.2",
        transport=httpx.MockTransport(lambda request: next(answers)),
        retry=RetryPolicy(max_attempts=2, jitter=lambda d: 0.0),
        name="crm source-crm",
        metrics=metrics,
    )
    client.get_json("accounts")  # the 429, retried, then the 200
    systems = metrics.snapshot()["systems"]
    assert (systems["crm"]["calls"], systems["crm"]["throttled"], systems["crm"]["last_retry_after_s"]) == (2, 1, 0.0)
    now = systems["crm"]["last_call_ms"]
    snap = {"component": "source-crm", "ts_ms": now, "started_ms": now - 10_000} | metrics.snapshot()
    assert describe("source-crm@h:1", snap, now)["ready"]
    with pytest.raises(RetriableError):
        client.get_json("accounts")
    snap = {"component": "source-crm", "ts_ms": now, "started_ms": now - 10_000} | metrics.snapshot()
    process = describe("source-crm@h:1", snap, now)
    assert not process["ready"] and "its last call to crm failed (HTTP 503)" in process["why_not"][0]
    assert process["systems"]["crm"]["failed"] >= 1
