"""The source contract: one method, ``changes(position)``, yields change events from a saved position.

What it yields, in order:

    ChangeEvent   one Avro change event (Debezium envelope) for a topic, keyed by the row's key
    Rejected      a row that cannot be converted: the runner dead-letters it (never silently dropped)
    Checkpoint    the position reached *after* everything yielded before it; the runner stores it only
                  once the broker acknowledged every event before it (at-least-once, at most a page again)

A position is a JSON-able dict owned by the source; the runner stores it under the source's ``name``.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

Position = dict[str, Any]

#: polls a second, at most, among a source's streams that are being changed (Dataverse allows a user 6,000
#: requests in 5 minutes: 20 a second, shared with the sinks writing as the same user)
BUSY_POLLS_PER_S = 10.0
#: seconds without a change after which a stream is polled at the idle interval (when the source has one)
QUIET_BEFORE_IDLE_S = 60.0


def idle_pace(interval: float, idle_interval: float | None) -> float:
    """Seconds between the polls of a quiet stream: ``idle_interval``, never shorter than ``interval``."""
    return max(interval, idle_interval or interval)


@dataclass(frozen=True)
class ChangeEvent:
    topic: str
    key: str
    value: dict[str, Any]
    flow: str = "unknown"  # whose dead-letter topic it goes to if it does not fit its schema


@dataclass(frozen=True)
class Rejected:
    """A row the source could not turn into an event; goes to ``p2c.dlq.<flow>`` with ``reason``."""

    flow: str
    topic: str
    key: str | None
    raw: bytes
    reason: str
    field: str | None = None


@dataclass(frozen=True)
class Checkpoint:
    position: Position
    note: str = ""


SourceItem = ChangeEvent | Rejected | Checkpoint

S = TypeVar("S")


class Source(ABC):
    """A change feed. ``changes`` runs until ``stop()`` is called (or forever)."""

    #: stored positions are keyed by this name; one per source connector
    name: str = "source"

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._resyncs: set[str] = set()
        self._resyncs_lock = threading.Lock()
        self.clock: Callable[[], float] = time.monotonic  # when streams are due (poll_forever)

    @abstractmethod
    def changes(self, position: Position | None) -> Iterator[SourceItem]:
        """Yield change events from ``position`` (None: from scratch), with checkpoints between them."""

    def topics(self) -> list[str]:
        """Topics this source produces to (checked/created at start)."""
        return []

    def entity_sets(self) -> list[str]:
        """The entity sets this source reads (what a resync can ask of it)."""
        return []

    def resync(self, entity_sets: Iterable[str]) -> list[str]:
        """Read these entity sets in full again, from the next poll on (``p2c resync``); called from another
        thread. Returns those this source reads: the others are another source's."""
        mine = [e for e in entity_sets if e in self.entity_sets()]
        with self._resyncs_lock:
            self._resyncs.update(mine)
        return mine

    def take_resync(self, entity_set: str) -> bool:
        """Whether a resync of ``entity_set`` was asked since the last look (the poll then reads it in full)."""
        with self._resyncs_lock:
            asked = entity_set in self._resyncs
            self._resyncs.discard(entity_set)
        return asked

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True when stopped meanwhile."""
        return self._stop.wait(seconds)

    def poll_forever(
        self,
        streams: Iterable[S],
        poll: Callable[[S], Iterator[SourceItem]],
        interval: float,
        busy_interval: float | None = None,
        idle_interval: float | None = None,
    ) -> Iterator[SourceItem]:
        """Poll every stream ``interval`` seconds after its last poll, in their order, until stopped.

        With ``busy_interval``, a stream whose last poll brought a change is polled again that soon instead: a
        change made while others are being made waits a fraction of the interval for its poll. The busy streams
        share at most ``BUSY_POLLS_PER_S`` polls a second (each takes longer when more of them are busy), so
        the source stays well within a service's request limits.

        With ``idle_interval``, a stream whose polls brought nothing for ``QUIET_BEFORE_IDLE_S`` is polled every
        ``idle_interval`` (never more often than every ``interval``) until one brings a change: a quiet tenant
        costs a fraction of the requests (Power Platform counts every request against a daily allocation),
        and the first change after a quiet spell waits up to ``idle_interval`` instead of ``interval``.
        """
        streams = list(streams)
        due = [0.0] * len(streams)
        busy = [False] * len(streams)
        changed_at = [self.clock()] * len(streams)
        idle = idle_pace(interval, idle_interval)
        while not self.stopped:
            for i, stream in enumerate(streams):
                if due[i] > self.clock():
                    continue
                changed = False
                for item in poll(stream):
                    changed = changed or not isinstance(item, Checkpoint)
                    yield item
                if self.stopped:
                    return
                now = self.clock()
                if changed:
                    changed_at[i] = now
                busy[i] = changed and busy_interval is not None
                quick = min(interval, max(busy_interval or 0.0, sum(busy) / BUSY_POLLS_PER_S))
                quiet = now - changed_at[i] >= QUIET_BEFORE_IDLE_S
                due[i] = now + (quick if busy[i] else idle if quiet else interval)
            if self.wait(max(0.0, min(due) - self.clock())):
                return

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release HTTP clients and the like."""
