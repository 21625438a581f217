"""A process publishes its counters when they change, and a heartbeat when they do not."""

from __future__ import annotations

import json
from typing import Any

import pytest

from p2c.metrics import IN, LOADS, Counters, MetricsReporter
from p2c.settings import KafkaSettings


class Recorded:
    """Stands in for the producer: keeps what would have been sent."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.flushed = 0
        self.unacknowledged = 0  # what the broker will not acknowledge, set by a test

    def produce(self, topic: str, key: bytes, value: bytes) -> None:
        self.sent.append(json.loads(value))

    def poll(self, timeout: float) -> int:
        return 0

    def flush(self, timeout: float) -> int:
        self.flushed += 1
        return self.unacknowledged


@pytest.fixture
def reporter() -> tuple[MetricsReporter, Counters, Recorded]:
    counters = Counters()
    reporter = MetricsReporter("source-crm", KafkaSettings(), counters, heartbeat=3600)
    recorded = Recorded()
    reporter._producer = recorded  # type: ignore[assignment]
    return reporter, counters, recorded


def test_the_first_look_publishes_then_only_a_change_does(reporter: tuple[MetricsReporter, Counters, Recorded]) -> None:
    publisher, counters, recorded = reporter
    assert publisher.publish_if_due()
    assert not publisher.publish_if_due()
    counters.incr("accounts", IN, 3)
    assert publisher.publish_if_due()
    assert recorded.sent[-1]["counts"]["accounts"][IN] == 3
    assert len(recorded.sent) == 2


def test_an_idle_poll_is_no_change_a_finished_load_is_and_the_heartbeat_sends_both(
    reporter: tuple[MetricsReporter, Counters, Recorded],
) -> None:
    publisher, counters, recorded = reporter
    counters.gauge("accounts", LOADS, {"accounts": {"done": 10, "last_poll_ms": 1}})
    publisher.publish_if_due()
    counters.gauge("accounts", LOADS, {"accounts": {"done": 10, "last_poll_ms": 2}})
    assert not publisher.publish_if_due()
    counters.gauge("accounts", LOADS, {"accounts": {"done": 10, "last_poll_ms": 3, "finished_ms": 3}})
    assert publisher.publish_if_due()
    counters.gauge("accounts", LOADS, {"accounts": {"done": 10, "last_poll_ms": 4, "finished_ms": 3}})
    assert not publisher.publish_if_due()
    publisher.heartbeat = 0
    assert publisher.publish_if_due()
    assert recorded.sent[-1]["gauges"]["accounts"][LOADS]["accounts"]["last_poll_ms"] == 4


def test_a_throttled_call_is_a_change_an_answered_one_is_not(
    reporter: tuple[MetricsReporter, Counters, Recorded],
) -> None:
    publisher, counters, recorded = reporter
    counters.call("crm", 200)
    publisher.publish_if_due()
    counters.call("crm", 200)
    assert not publisher.publish_if_due()
    counters.call("crm", 429, retry_after=2.0)
    assert publisher.publish_if_due()
    assert recorded.sent[-1]["systems"]["crm"] | {"calls": 3, "throttled": 1} == recorded.sent[-1]["systems"]["crm"]


def test_counts_are_published_and_acknowledged_before_a_commit_or_the_commit_is_put_off(
    reporter: tuple[MetricsReporter, Counters, Recorded],
) -> None:
    publisher, counters, recorded = reporter
    publisher.publish_if_due()
    counters.incr("accounts", IN, 5)
    publisher.publish_before_commit()
    assert recorded.sent[-1]["counts"]["accounts"][IN] == 5 and recorded.flushed == 1
    publisher.publish_before_commit()  # nothing changed: nothing sent again, still waited for
    assert len(recorded.sent) == 2 and recorded.flushed == 2
    recorded.unacknowledged = 1
    with pytest.raises(RuntimeError, match="did not acknowledge its counts"):
        publisher.publish_before_commit(timeout=0)
