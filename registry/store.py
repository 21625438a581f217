"""Where the ``_schemas`` log lives: the contract, and an in-memory implementation.

A store appends records to a totally ordered log and feeds every record of the log, in order, to one
``apply`` function (the registry state), its own records and other processes' alike. ``append`` returns only
once ``apply`` has seen the new record, with what ``apply`` said about it: that gives read-your-writes, and
tells a writer whether the log order let its proposal through (see ``registry.state``).

``KafkaStore`` (``registry.kafka_store``) keeps the log in a Kafka topic; ``MemoryStore`` keeps it in a list,
for tests and for a throwaway registry, and several MemoryStores may share one ``MemoryLog``.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from p2c.registry import records
from p2c.registry.records import JSONDict, Record

Applier = Callable[[Record], str | None]
_KEEP_OUTCOMES = 10_000


@dataclass(frozen=True)
class Appended:
    """Where a record landed and, when the state refused it, why."""

    offset: int
    refused: str | None = None


class StoreError(Exception):
    """The log could not be written or read in time."""


class Store(ABC):
    """The log of registry changes."""

    @abstractmethod
    async def start(self, apply: Applier) -> int:
        """Feed the whole log to ``apply``, up to its current end; return how many records that was.
        Records appended later (by anyone) keep being fed to ``apply`` until ``close``."""

    @abstractmethod
    async def append(self, key: JSONDict, value: JSONDict | None) -> Appended:
        """Append one record and return once ``apply`` has seen it."""

    @abstractmethod
    async def sync(self) -> None:
        """Return once ``apply`` has seen every record that was in the log when this was called."""

    @abstractmethod
    async def close(self) -> None:
        """Stop following the log and release connections."""

    async def cluster_id(self) -> str | None:
        """The id of the cluster holding the log, when there is one."""
        return None


@dataclass
class Follower:
    """Applies records in order and tells waiters about offsets once applied. Runs on the event loop."""

    apply: Applier
    applied: int = -1
    outcomes: OrderedDict[int, str | None] = field(default_factory=OrderedDict)
    waiters: list[tuple[int, asyncio.Future[None]]] = field(default_factory=list)

    def deliver(self, batch: Iterable[Record]) -> None:
        for record in batch:
            if record.offset <= self.applied:
                continue
            self.outcomes[record.offset] = self.apply(record)
            self.applied = record.offset
            if len(self.outcomes) > _KEEP_OUTCOMES:
                self.outcomes.popitem(last=False)
        self.advance(self.applied)

    def advance(self, offset: int) -> None:
        """Note that everything up to ``offset`` was seen (also offsets of skipped records)."""
        self.applied = max(self.applied, offset)
        still = []
        for target, fut in self.waiters:
            if target <= self.applied:
                if not fut.done():
                    fut.set_result(None)
            else:
                still.append((target, fut))
        self.waiters = still

    async def wait(self, offset: int, timeout: float) -> str | None:
        """Wait until ``offset`` is applied; return what ``apply`` said about it."""
        if offset > self.applied:
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self.waiters.append((offset, fut))
            try:
                await asyncio.wait_for(fut, timeout)
            except TimeoutError as exc:
                raise StoreError(f"offset {offset} of the log was not read back within {timeout} s") from exc
        return self.outcomes.get(offset)


@dataclass
class MemoryLog:
    """A log in a list: ``(key, value)`` as the bytes Kafka would carry."""

    entries: list[tuple[bytes | None, bytes | None]] = field(default_factory=list)

    def append(self, key: JSONDict, value: JSONDict | None) -> int:
        self.entries.append((records.encode(key), records.encode(value)))
        return len(self.entries) - 1


class MemoryStore(Store):
    """A store over a ``MemoryLog``. It reads what others appended when it appends or syncs: a lagging view,
    which is exactly what lets tests stage races between two registries."""

    def __init__(self, log: MemoryLog | None = None) -> None:
        self.log = log if log is not None else MemoryLog()
        self._follower: Follower | None = None

    def _catch_up(self) -> None:
        assert self._follower is not None, "start() first"
        first = self._follower.applied + 1
        batch = [records.decode(i, k, v) for i, (k, v) in enumerate(self.log.entries[first:], first)]
        self._follower.deliver(r for r in batch if r is not None)
        self._follower.advance(len(self.log.entries) - 1)

    async def start(self, apply: Applier) -> int:
        self._follower = Follower(apply)
        self._catch_up()
        return len(self.log.entries)

    async def append(self, key: JSONDict, value: JSONDict | None) -> Appended:
        offset = self.log.append(key, value)
        self._catch_up()
        assert self._follower is not None
        return Appended(offset, await self._follower.wait(offset, 1.0))

    async def sync(self) -> None:
        self._catch_up()

    async def close(self) -> None:
        self._follower = None
