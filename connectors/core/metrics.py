"""Counters per component (read, written, dead-lettered, retried, ...), readable in-process by the status
display (``METRICS.snapshot()``), and a one-line INFO summary every ``interval`` seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable

log = logging.getLogger("p2c.connectors.metrics")


class Metrics:
    """Thread-safe counters keyed by (component, name)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[str, Counter[str]] = {}

    def incr(self, component: str, name: str, n: int = 1) -> None:
        if n:
            with self._lock:
                self._counters.setdefault(component, Counter())[name] += n

    def get(self, component: str, name: str) -> int:
        with self._lock:
            return self._counters.get(component, Counter())[name]

    def snapshot(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {c: dict(counts) for c, counts in self._counters.items()}

    def reset(self) -> None:
        with self._lock:
            self._counters.clear()


METRICS = Metrics()


class Reporter:
    """Logs ``component: read=.. written=..`` every ``interval`` seconds when ``tick()`` is called."""

    def __init__(
        self, component: str, metrics: Metrics = METRICS, interval: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.component = component
        self.metrics = metrics
        self.interval = interval
        self._clock = clock
        self._last = clock()

    def line(self) -> str:
        counts = self.metrics.snapshot().get(self.component, {})
        body = " ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "idle"
        return f"{self.component}: {body}"

    def tick(self) -> None:
        now = self._clock()
        if self.interval > 0 and now - self._last >= self.interval:
            self._last = now
            log.info("%s", self.line())
