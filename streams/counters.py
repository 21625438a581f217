"""Per-flow counters, the one-line summary a worker logs periodically, and the snapshot it publishes to
``p2c.metrics`` for ``p2c status`` (names as in p2c/metrics.py: ``routed`` is what the streams sent on)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from p2c import metrics


class SupportsPublished(Protocol):
    def published(self) -> dict[str, Any]: ...


@dataclass
class FlowCounters:
    """What one flow did since the worker started."""

    flow: str
    events_in: int = 0  # change events read (answers and subscriptions are not change events)
    written: int = 0  # records sent to the target topic (a change may cause two: DELETE old key + UPSERT)
    #: change events that ended in a write (a parked one counts when its record is released)
    events_written: int = 0
    dead_lettered: int = 0  # change events dead-lettered
    side_dead_lettered: int = 0  # join answers and subscriptions dead-lettered (not change events)
    skipped: int = 0  # change events with nothing to write, each under the rule that skipped it:
    skipped_by: dict[str, int] = field(default_factory=dict)
    #: change events parked by an earlier run or another worker that this one took over, and handed over
    carried_in: int = 0
    carried_out: int = 0
    #: a joining flow's parked records by the dependency they wait for (streams.join.waits.WaitingKeys)
    waits: SupportsPublished | None = None
    retries: int = 0  # transient failures retried (registry unreachable, ...)
    waiting: int = 0  # gauge: change events parked until a dependency arrives (in records still parked)
    waiting_on: dict[str, int] = field(default_factory=dict)  # gauge: what they wait for -> how many events
    _last: tuple[float, int] = field(default_factory=lambda: (time.monotonic(), 0), repr=False)

    def skip(self, rule: str, events: int = 1) -> None:
        """``events`` change events end with nothing to write, because of ``rule`` (a reason ``rule: detail``
        counts under its rule, so the counters stay few)."""
        rule = rule.split(": ", 1)[0]
        self.skipped += events
        self.skipped_by[rule] = self.skipped_by.get(rule, 0) + events

    def summary(self) -> str:
        """``accounts: in 1200 (400/s) written 1190 dead-lettered 10 skipped 0``; resets the rate window."""
        now = time.monotonic()
        since, seen = self._last
        rate = (self.events_in - seen) / max(now - since, 1e-9)
        self._last = (now, self.events_in)
        text = (
            f"{self.flow}: in {self.events_in} ({rate:.0f}/s) written {self.written} "
            f"dead-lettered {self.dead_lettered} skipped {self.skipped}"
        )
        return text + (f" retries {self.retries}" if self.retries else "")


class ParkedGauge:
    """The ``waiting``/``waiting_on`` gauges of one flow, kept by difference: each park or release costs one
    update, never a walk over every parked record (20,000 parked quotes during an initial load made the walk
    37 ms per event). The totals are what a recount from scratch would give.

    In change events: a parked record holds the events read since its last outcome, and counts them under one
    label of what it waits on (``customer, product``), so the breakdown adds up to ``waiting``."""

    def __init__(self, counters: FlowCounters) -> None:
        self.counters = counters
        self.parked: dict[bytes, tuple[str, int]] = {}  # key -> (label, change events it holds)
        self.clear()

    def clear(self) -> None:
        self.parked = {}
        self.counters.waiting, self.counters.waiting_on = 0, {}

    def set(self, key: bytes, waiting_on: dict[str, int] | None, events: int = 1) -> None:
        """The record ``key`` now waits on ``waiting_on`` with ``events`` change events (None or empty: it waits
        on nothing)."""
        total = self.counters.waiting_on
        old = self.parked.pop(key, None)
        if old is not None:
            label, n = old
            left = total.get(label, 0) - n
            if left:
                total[label] = left
            else:
                total.pop(label, None)
            self.counters.waiting -= n
        if waiting_on:
            label = waiting_label(waiting_on)
            self.parked[key] = (label, events)
            if events:
                total[label] = total.get(label, 0) + events
            self.counters.waiting += events


def waiting_label(waiting_on: dict[str, int]) -> str:
    """What a parked record waits on, as one label (``customer, product``)."""
    return ", ".join(sorted(waiting_on))


class Snapshot:
    """What a worker's MetricsReporter publishes: its flows' counters and gauges."""

    def __init__(self, flows: Iterable[FlowCounters]) -> None:
        self.flows = list(flows)

    def snapshot(self) -> dict[str, Any]:
        """Counters summed per flow (a flow's agent and the join provider reading its topic count apart)."""
        counts: dict[str, dict[str, int]] = {}
        gauges: dict[str, dict[str, Any]] = {}
        for c in self.flows:
            mine = counts.setdefault(c.flow, dict.fromkeys(COUNTED, 0))
            values = (c.events_in, c.written, c.events_written, c.skipped, c.dead_lettered, c.side_dead_lettered)
            for name, value in zip(COUNTED, (*values, c.retries, c.carried_in, c.carried_out), strict=True):
                mine[name] += value
            for rule, n in list(c.skipped_by.items()):
                mine[metrics.skipped_by(rule)] = mine.get(metrics.skipped_by(rule), 0) + n
            gauge = gauges.setdefault(c.flow, {metrics.WAITING: 0, metrics.WAITING_ON: {}})
            gauge[metrics.WAITING] += c.waiting
            for what, n in list(c.waiting_on.items()):
                gauge[metrics.WAITING_ON][what] = gauge[metrics.WAITING_ON].get(what, 0) + n
            if c.waits is not None:
                keys = gauge.setdefault(metrics.WAITING_KEYS, {})
                for dep, records in c.waits.published().items():
                    keys[dep] = sorted({*keys.get(dep, []), *records})
        return {"counts": counts, "gauges": gauges}


COUNTED = (
    metrics.IN,
    metrics.ROUTED,
    metrics.WRITTEN,
    metrics.SKIPPED,
    metrics.DEAD_LETTERED,
    metrics.SIDE_DEAD_LETTERED,
    metrics.RETRIED,
    metrics.CARRIED_IN,
    metrics.CARRIED_OUT,
)
