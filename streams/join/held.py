"""A joining record's writes within one batch of its agent, sent once, at the record's last event in the batch.

A quote arriving line by line used to be written once per line: every line event re-emits the whole
quotation, so a quote of 400 lines in one batch sent 400 quotations (80,000 line records). Each write of a
record is a whole target row at a version strictly newer than the record's previous ones
(:mod:`streams.emission`), so within a batch a later write to the same target key replaces an earlier one:
only the last is sent, when the record's last event of the batch has been handled (or dead-lettered: what
its earlier events held is sent all the same; or given back to a rebalance: what every record holds is sent
once the batch is cut short, :func:`streams.handling.handle_batch`).

Outputs before state still holds across a crash: a record's state is stored at each event, before the
batch's writes are sent, but the batch is acknowledged only after it, so after a crash its events are read
again; the first of them is at or before what the stored state holds, and a replay re-sends the state's
last emission (:func:`streams.join.core.replay`), which is the write that was held.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from faust.types import EventT

TargetWrite = tuple[str, bytes, bytes]  # (topic, target key, encoded value)


class HeldWrites:
    """Per record key, the writes held until its last event of the current batch."""

    def __init__(self) -> None:
        self._last: dict[bytes, int] = {}  # record key -> id() of its last event in the batch
        self._held: dict[bytes, dict[tuple[str, bytes], bytes]] = {}

    def plan(self, events: Sequence[EventT[Any]]) -> None:
        """The batch about to be handled: which event is each record's last."""
        self._last = {e.message.key: id(e) for e in events if e.message.key is not None}

    def last_of_its_record(self, event: EventT[Any]) -> bool:
        key = event.message.key
        return key is None or self._last.get(key, id(event)) == id(event)

    def hold(self, key: bytes, writes: Sequence[TargetWrite]) -> None:
        """Hold ``writes``; one to a target key already held replaces it (and goes last, as it came)."""
        held = self._held.setdefault(key, {})
        for topic, target_key, value in writes:
            held.pop((topic, target_key), None)
            held[(topic, target_key)] = value

    def holding(self) -> list[bytes]:
        """The records holding writes."""
        return list(self._held)

    def held(self, key: bytes) -> list[TargetWrite]:
        return [(topic, target_key, value) for (topic, target_key), value in self._held.get(key, {}).items()]

    def sent(self, key: bytes, write: TargetWrite) -> None:
        """``write`` reached the producer: it is no longer held."""
        held = self._held.get(key, {})
        held.pop((write[0], write[1]), None)
        if not held:
            self._held.pop(key, None)
