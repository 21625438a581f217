"""Counters per flow (in, written, skipped, dead_lettered, retried), kept in one in-process
``p2c.metrics.Counters`` (``METRICS``): the status display reads them in-process or, through
``p2c.metrics.MetricsReporter`` (started by the CLI), from ``p2c.metrics``. ``Reporter`` logs a one-line
summary every ``interval`` seconds at INFO.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from p2c.metrics import DEAD_LETTERED, IN, RETRIED, SKIPPED, WRITTEN, Counters

log = logging.getLogger("p2c.connectors.metrics")

METRICS = Counters()

__all__ = ["DEAD_LETTERED", "IN", "METRICS", "RETRIED", "SKIPPED", "WRITTEN", "Counters", "Reporter"]


class Reporter:
    """Logs ``<component>: accounts in=.. written=..; ...`` every ``interval`` seconds when ticked."""

    def __init__(
        self,
        component: str,
        counters: Counters = METRICS,
        interval: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.component = component
        self.counters = counters
        self.interval = interval
        self._clock = clock
        self._last = clock()

    def line(self) -> str:
        counts = self.counters.snapshot()["counts"]
        parts = [
            f"{flow} " + " ".join(f"{k}={v}" for k, v in sorted(names.items()))
            for flow, names in sorted(counts.items())
        ]
        return f"{self.component}: {'; '.join(parts) or 'idle'}"

    def tick(self) -> None:
        now = self._clock()
        if self.interval > 0 and now - self._last >= self.interval:
            self._last = now
            log.info("%s", self.line())
