"""Counters each component keeps per flow, published to ``p2c.metrics`` for ``p2c status`` and ``p2c up``.

Every process publishes a JSON snapshot of its counters when they changed (looked at every 2 s), and at least every
``HEARTBEAT_S`` seconds so that readers know it lives, keyed by its instance id
``<component>@<host>:<pid>``: two processes of one component never overwrite each other, and a restarted
process starts a new key, so the sum over every instance ever seen is the cumulative count without any
restore step. Gauges (current values such as ``waiting``) count only while their instance is live. Counting is
at-least-once, like the pipeline: every stage publishes its counts before it commits the offsets (or stores the
position) they cover (``MetricsReporter.publish_before_commit``), so a crash can count a record twice (the next run
reads it again) but never not at all (the next run would start past it).

Counter names: sources count ``in`` (rows published) and ``dead_lettered``; streams count ``in`` (change
events), ``routed`` (records sent to a target topic), ``written`` (change events that ended in a write),
``skipped`` and ``dead_lettered`` of change events, and ``side_dead_lettered`` (join answers and subscriptions
dead-lettered: not change events); sinks count ``read``, ``in`` (decoded), ``written``, ``skipped`` and
``dead_lettered``. Every ``skipped`` is also counted under ``skipped:<rule>``, the rule that skipped it.
Gauges: streams ``waiting`` (change events parked on a dependency) and ``waiting_on`` (the same events by
what they wait for), sinks ``held`` (records held back) and ``last_written_ms`` (the last successful write).
p2c.stages adds them up per stage.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections import defaultdict
from typing import Any, Protocol

from confluent_kafka import Producer

from p2c.keyed_log import KeyedLogTail, read_latest
from p2c.settings import KafkaSettings
from p2c.topics import METRICS

log = logging.getLogger("p2c.metrics")

IN = "in"
ROUTED = "routed"
WRITTEN = "written"
DEAD_LETTERED = "dead_lettered"
SKIPPED = "skipped"
RETRIED = "retried"
READ = "read"
CARRIED_IN = "carried_in"  # streams: parked change events taken over from an earlier run or another worker
CARRIED_OUT = "carried_out"  # streams: parked change events handed over at a rebalance
SIDE_DEAD_LETTERED = "side_dead_lettered"  # join answers/subscriptions: not change events of the flow
REQUEUED = "requeued"  # records a sink held back, given back at a rebalance: read again by the next owner
HELD = "held"  # gauge: records a sink holds back until a dependency exists
LAST_WRITTEN_MS = "last_written_ms"  # gauge: when the sink last wrote a record of the flow
LOADS = "loads"  # gauge (sources): {entity set: {done, total, started_ms, finished_ms, last_poll_ms}}
SKIPPED_BY = "skipped:"  # prefix: skipped:<rule>


def skipped_by(rule: str) -> str:
    """The counter of the records a rule skipped."""
    return SKIPPED_BY + rule


WAITING = "waiting"  # gauge: records parked on a dependency
WAITING_ON = "waiting_on"  # gauge: {what: count}
WAITING_KEYS = "waiting_keys"  # gauge (streams): {"<flow>:<dependency key>": [record keys waiting on it]}


class Counters:
    """Thread-safe cumulative counters per flow, plus gauges (current values such as ``waiting``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self._gauges: dict[str, dict[str, Any]] = defaultdict(dict)
        self._systems: dict[str, dict[str, Any]] = {}
        self._past_commit: dict[str, dict[str, int]] = {}

    def incr(self, flow: str, name: str, n: int = 1) -> None:
        with self._lock:
            self._counts[flow][name] += n

    def gauge(self, flow: str, name: str, value: Any) -> None:
        with self._lock:
            self._gauges[flow][name] = value

    def call(self, system: str, status: int, retry_after: float | None = None) -> None:
        """One API call to ``system`` answered ``status`` (0: no answer); a 429's ``Retry-After`` is kept."""
        now_ms = int(time.time() * 1000)
        with self._lock:
            mine = self._systems.setdefault(system, {"calls": 0, "throttled": 0, "failed": 0})
            mine["calls"] += 1
            mine["last_call_ms"] = now_ms
            if status == 429:
                mine["throttled"] += 1
                mine["last_retry_after_s"] = retry_after
                mine["throttled_until_ms"] = now_ms + int((retry_after or 0) * 1000)
            elif status == 0 or status >= 500:
                mine["failed"] += 1
                mine["failing"] = True  # a flag, not a time compared: an answer and a failure can share a millisecond
                mine["last_failed_ms"] = now_ms
                mine["last_failure"] = f"HTTP {status}" if status else "no answer"
            else:
                mine["failing"] = False
                mine["last_ok_ms"] = now_ms

    def past_commit(self, topic: str, partition: int, records: int) -> None:
        """A sink read ``records`` of the partition past its committed offset (held back, or handled after one
        held back): not lag, though the committed offset says so (p2c.status subtracts them)."""
        with self._lock:
            self._past_commit.setdefault(topic, {})[str(partition)] = records

    def get(self, flow: str, name: str) -> int:
        with self._lock:
            return self._counts.get(flow, {}).get(name, 0)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "counts": {f: dict(c) for f, c in self._counts.items()},
                "gauges": {f: dict(g) for f, g in self._gauges.items()},
                "systems": {name: dict(s) for name, s in self._systems.items()},
                "past_commit": {topic: dict(p) for topic, p in self._past_commit.items()},
            }


class SupportsSnapshot(Protocol):
    def snapshot(self) -> dict[str, Any]: ...


#: the longest a live process stays silent: under ``p2c.stages.STALE_AFTER_S``, after which it counts as gone
HEARTBEAT_S = 10.0


def what_changed(snapshot: dict[str, Any]) -> Any:
    """The part of a snapshot worth publishing again: everything but the loads' last poll times and the API
    calls that were answered, which move with every poll of an idle source. Publishing those every 2 s made an
    idle ``p2c up`` fill ``p2c.metrics`` (which the embedded broker keeps in memory, uncompacted, and every
    ``p2c status`` reads whole); they go out with the next change or heartbeat. Throttling and failures do count
    as a change."""

    def without_polls(name: str, value: Any) -> Any:
        if name != LOADS:
            return value
        return {entity: {k: v for k, v in load.items() if k != "last_poll_ms"} for entity, load in value.items()}

    gauges = {
        flow: {name: without_polls(name, value) for name, value in flow_gauges.items()}
        for flow, flow_gauges in snapshot.get("gauges", {}).items()
    }
    trouble = {name: (s.get("throttled"), s.get("failed")) for name, s in snapshot.get("systems", {}).items()}
    return {"counts": snapshot.get("counts"), "gauges": gauges, "systems": trouble, "past": snapshot.get("past_commit")}


class MetricsReporter:
    """Publishes a component's counters on a daemon thread: within ``interval`` seconds of a change, and at least
    every ``heartbeat`` seconds."""

    def __init__(
        self,
        component: str,
        kafka: KafkaSettings,
        counters: SupportsSnapshot,
        interval: float = 2.0,
        heartbeat: float = HEARTBEAT_S,
    ) -> None:
        self.component = component
        self.instance = f"{component}@{socket.gethostname()}:{os.getpid()}"
        self.counters = counters
        self.interval = interval
        self.heartbeat = heartbeat
        self._producer = Producer(kafka.librdkafka() | {"linger.ms": 0})
        self.started_ms = int(time.time() * 1000)
        self._published: Any = None
        self._published_at = 0.0
        self._publishing = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"metrics-{component}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def publish_if_due(self) -> bool:
        """Publish when something worth knowing changed or the heartbeat is due; whether it published."""
        with self._publishing:
            snapshot = self.counters.snapshot()
            due = time.monotonic() - self._published_at >= self.heartbeat
            if not due and what_changed(snapshot) == self._published:
                return False
            self._produce(snapshot)
        return True

    def publish_before_commit(self, timeout: float = 10.0) -> None:
        """Publish the counters if they changed, and wait until the broker has them: called before a stage commits
        the offsets (or stores the position) its counts cover; raises ``RuntimeError`` if the broker did not
        acknowledge them (the caller does not commit: the records are read, and counted, again)."""
        with self._publishing:
            snapshot = self.counters.snapshot()
            if what_changed(snapshot) != self._published:
                self._produce(snapshot)
        if self._producer.flush(timeout):
            raise RuntimeError(f"{self.component}: the broker did not acknowledge its counts in {timeout:.0f} s")

    def publish(self, *, final: bool = False) -> None:
        """Publish the counters now; ``final``: the process stops (its gauges no longer count)."""
        with self._publishing:
            self._produce(self.counters.snapshot(), final=final)

    def _produce(self, counted: dict[str, Any], *, final: bool = False) -> None:
        """Snapshots are taken and produced under ``_publishing``: the reporter's thread and a committing stage
        both publish, and a later snapshot must never be overtaken by an earlier one."""
        self._published, self._published_at = what_changed(counted), time.monotonic()
        snapshot = counted | {
            "component": self.component,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "ts_ms": int(time.time() * 1000),
            "started_ms": self.started_ms,
            "stopped": final,
        }
        self._producer.produce(METRICS.name, key=self.instance.encode(), value=json.dumps(snapshot).encode())
        self._producer.poll(0)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.publish_if_due()
            except Exception as exc:  # metrics must never take a component down
                log.warning("%s: could not publish metrics: %s", self.component, exc)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        try:
            self.publish(final=True)
            self._producer.flush(5)
        except Exception as exc:
            log.warning("%s: could not publish final metrics: %s", self.component, exc)


def read_snapshots(kafka: KafkaSettings) -> dict[str, dict[str, Any]]:
    """The latest snapshot of every component instance that ever reported, by instance id."""
    return _decoded(read_latest(kafka, METRICS.name))


class SnapshotTail:
    """:func:`read_snapshots` for a caller that asks again and again (``p2c up``'s status line, the console):
    each read takes only the snapshots published since the last one."""

    def __init__(self, kafka: KafkaSettings) -> None:
        self._tail = KeyedLogTail(kafka, METRICS.name)

    def read(self) -> dict[str, dict[str, Any]]:
        return _decoded(self._tail.read())

    def close(self) -> None:
        self._tail.close()


def _decoded(latest: dict[bytes, bytes | None]) -> dict[str, dict[str, Any]]:
    return {key.decode(): json.loads(value) for key, value in latest.items() if value is not None}
