"""A source's load progress: published as a gauge, read back with its rate and time left."""

from __future__ import annotations

from p2c.connectors.core.progress import Loads
from p2c.metrics import LOADS, Counters
from p2c.stages import loads


def test_a_load_in_progress_has_a_rate_and_a_time_left_and_a_finished_one_a_finish_time() -> None:
    now = [1000.0]
    metrics = Counters()
    progress = Loads(metrics, clock=lambda: now[0])
    progress.started("accounts", "accounts", 1000)
    now[0] += 10
    progress.advanced("accounts", "accounts", 250)
    snapshot = {"component": "source-crm", "gauges": metrics.snapshot()["gauges"]}
    [load] = loads("accounts", [snapshot], now[0] * 1000)
    assert (load["state"], load["done"], load["total"], load["rate_per_s"], load["seconds_left"]) == (
        "loading",
        250,
        1000,
        25.0,
        30.0,
    )
    progress.advanced("accounts", "accounts", 750)
    progress.finished("accounts", "accounts")
    progress.polled("accounts", "accounts")
    snapshot = {"component": "source-crm", "gauges": metrics.snapshot()["gauges"]}
    [load] = loads("accounts", [snapshot], now[0] * 1000 + 60_000)
    assert load["state"] == "done" and "seconds_left" not in load and load["last_poll_ms"] == 1_010_000
    assert metrics.snapshot()["gauges"]["accounts"][LOADS]["accounts"]["done"] == 1000


def test_the_newest_report_of_an_entity_wins_and_other_stages_are_ignored() -> None:
    old = {"component": "source-crm", "gauges": {"quotes": {LOADS: {"quotes": {"done": 5, "last_poll_ms": 1}}}}}
    new = {"component": "source-crm", "gauges": {"quotes": {LOADS: {"quotes": {"done": 9, "last_poll_ms": 2}}}}}
    sink = {"component": "sink-erp", "gauges": {"quotes": {LOADS: {"quotes": {"done": 99, "last_poll_ms": 3}}}}}
    [load] = loads("quotes", [old, new, sink], 10)
    assert (load["done"], load["state"]) == (9, "polling")
