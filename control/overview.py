"""Flows, health and dead-letter counts in one place, for the API, the console and ``/metrics``.

The figures are ``p2c status``'s (``p2c.status.collect``: the same code the CLI prints), cached for a second
so that a page, a scrape and an API call at the same moment read Kafka once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from p2c.control.deadletters import DeadLetters
from p2c.control.lifecycle import STATES, Entry
from p2c.control.waits import links, waiting_for
from p2c.errors import P2CError
from p2c.reachable import require_kafka
from p2c.settings import KafkaSettings
from p2c.status import Report, StatusReader, as_json, collect

log = logging.getLogger("p2c.control")


@dataclass
class Snapshot:
    """What the control shows at one moment."""

    report: Report
    letters: list[Entry]
    waits: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # control.waits.waiting_for
    taken_at: float = field(default_factory=time.time)

    def dead_letters(self, flow: str) -> dict[str, int]:
        counts = Counter(e.state for e in self.letters if e.flow == flow)
        return {s: counts.get(s, 0) for s in STATES}

    def flows(self) -> list[dict[str, Any]]:
        return [
            f
            | {
                "dead_letters": self.dead_letters(f["flow"]),
                "waiting_on_dead_letters": links(f["flow"], self.waits, self.letters),
            }
            for f in as_json(self.report)["flows"]
        ]

    def components(self) -> list[dict[str, Any]]:
        components: list[dict[str, Any]] = as_json(self.report)["components"]
        return components


class Overview:
    def __init__(self, kafka: KafkaSettings, ttl: float = 1.0) -> None:
        self.kafka = kafka
        self.dead_letters = DeadLetters(kafka)
        self.ttl = ttl
        self.reader = StatusReader(kafka)  # read under the lock
        self._lock = threading.Lock()
        self._cached: Snapshot | None = None

    def snapshot(self) -> Snapshot:
        with self._lock:
            if self._cached is None or time.time() - self._cached.taken_at > self.ttl:
                require_kafka(self.kafka)
                report = collect(self.kafka, self.reader)
                waits = waiting_for(report.snapshots.values(), time.time() * 1000)
                self._cached = Snapshot(report, self.dead_letters.entries(), waits)
            return self._cached

    def waits(self) -> dict[str, dict[str, list[str]]]:
        """What the streams' parked records wait for (:func:`control.waits.waiting_for`); empty, with a warning,
        when the status cannot be read: the dead letters must still be listed, only their "waited on by" not."""
        try:
            return self.snapshot().waits
        except P2CError as exc:
            log.warning("what waits on the dead letters is not shown: %s", exc)
            return {}

    def forget(self) -> None:
        """After a change (a retry, a discard), the next read goes to Kafka."""
        with self._lock:
            self._cached = None

    def health(self) -> tuple[bool, list[str]]:
        """Ready, or the reasons why not: Kafka unreachable, a component silent, nothing reporting yet."""
        try:
            snapshot = self.snapshot()
        except P2CError as exc:
            return False, [str(exc)]
        reasons = [
            f"{c.component} has not reported for {c.last_seen_s:.0f} s" for c in snapshot.report.components if c.stale
        ]
        if not snapshot.report.components:
            reasons.append("no source, streams worker or sink has reported yet (p2c.metrics is empty)")
        return not reasons, reasons


#: the control app's one Overview: every page, API call and scrape reads the status through it
OVERVIEW: web.AppKey[Overview] = web.AppKey("overview", Overview)
