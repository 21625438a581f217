"""How far each source's loads are, published with its counters (``p2c.metrics`` gauge ``loads``).

Per flow and entity set: rows done in the current full load, its total when the source can tell it
(Dataverse ``<set>/$count``, which counts up to 5,000 only; a FinOps snapshot knows its size once read), when
it started and finished, and when the source last polled the set. ``p2c status`` works out the rate and the
time left (p2c.stages.progress).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from p2c.connectors.core.metrics import METRICS
from p2c.metrics import LOADS, Counters

PUBLISH_EVERY_S = 0.5


class Loads:
    def __init__(self, metrics: Counters = METRICS, clock: Callable[[], float] = time.time) -> None:
        self.metrics = metrics
        self.clock = clock
        self._state: dict[str, dict[str, dict[str, Any]]] = {}
        self._published = 0.0

    def _ms(self) -> int:
        return int(self.clock() * 1000)

    def _entry(self, flow: str, entity: str) -> dict[str, Any]:
        return self._state.setdefault(flow, {}).setdefault(entity, {"done": 0, "total": None})

    def started(self, flow: str, entity: str, total: int | None) -> None:
        """A full load of ``entity`` begins; ``total`` rows when the source can tell."""
        entry = self._entry(flow, entity)
        entry.update(done=0, total=total, started_ms=self._ms(), finished_ms=None)
        self._publish(flow)

    def advanced(self, flow: str, entity: str, rows: int = 1) -> None:
        self._entry(flow, entity)["done"] += rows
        if self.clock() - self._published >= PUBLISH_EVERY_S:
            self._publish(flow)

    def finished(self, flow: str, entity: str, total: int | None = None) -> None:
        entry = self._entry(flow, entity)
        entry.update(finished_ms=self._ms())
        if total is not None:
            entry["total"] = total
        self._publish(flow)

    def polled(self, flow: str, entity: str) -> None:
        """The source asked the service for ``entity``'s changes (the last poll, even with none)."""
        self._entry(flow, entity)["last_poll_ms"] = self._ms()
        self._publish(flow)

    def _publish(self, flow: str) -> None:
        self._published = self.clock()
        self.metrics.gauge(flow, LOADS, {entity: dict(entry) for entity, entry in self._state[flow].items()})


#: the process's loads (one source per process)
LOAD_PROGRESS = Loads()
