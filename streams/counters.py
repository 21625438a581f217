"""Per-flow counters, the one-line summary a worker logs periodically, and the snapshot it publishes to
``p2c.metrics`` for ``p2c status`` (names as in p2c/metrics.py: ``routed`` is what the streams sent on)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from p2c import metrics


@dataclass
class FlowCounters:
    """What one flow did since the worker started."""

    flow: str
    events_in: int = 0
    written: int = 0  # records sent to the target topic (a change may cause two: DELETE old key + UPSERT)
    dead_lettered: int = 0
    skipped: int = 0  # changes routed elsewhere: nothing to write
    retries: int = 0  # transient failures retried (registry unreachable, ...)
    waiting: int = 0  # gauge: records parked until a dependency arrives
    waiting_on: dict[str, int] = field(default_factory=dict)  # gauge: what they wait for -> how many
    _last: tuple[float, int] = field(default_factory=lambda: (time.monotonic(), 0), repr=False)

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


class Snapshot:
    """What a worker's MetricsReporter publishes: its flows' counters and gauges."""

    def __init__(self, flows: Iterable[FlowCounters]) -> None:
        self.flows = list(flows)

    def snapshot(self) -> dict[str, Any]:
        counts = {
            c.flow: {
                metrics.IN: c.events_in,
                metrics.ROUTED: c.written,
                metrics.SKIPPED: c.skipped,
                metrics.DEAD_LETTERED: c.dead_lettered,
                metrics.RETRIED: c.retries,
            }
            for c in self.flows
        }
        gauges = {c.flow: {metrics.WAITING: c.waiting, metrics.WAITING_ON: dict(c.waiting_on)} for c in self.flows}
        return {"counts": counts, "gauges": gauges}
