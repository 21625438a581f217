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
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

Position = dict[str, Any]


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
        self, streams: Iterable[S], poll: Callable[[S], Iterator[SourceItem]], interval: float
    ) -> Iterator[SourceItem]:
        """Poll every stream in turn, then wait ``interval`` seconds, until stopped."""
        streams = list(streams)
        while not self.stopped:
            for stream in streams:
                yield from poll(stream)
                if self.stopped:
                    return
            if self.wait(interval):
                return

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release HTTP clients and the like."""
