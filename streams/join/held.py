"""A joining record's writes and state within one batch of its agent: kept in memory until the record's last
event in the batch, then its state stored once and its last write per target key sent once.

A quote arriving line by line used to be written once per line: every line event re-emits the whole
quotation, so a quote of 400 lines in one batch sent 400 quotations (80,000 line records). Each write of a
record is a whole target row at a version strictly newer than the record's previous ones
(:mod:`streams.emission`), so within a batch a later write to the same target key replaces an earlier one:
only the last is sent, when the record's last event of the batch has been handled (or dead-lettered: what
its earlier events held is sent all the same; or given back to a rebalance: what every record holds is sent
once the batch is cut short, :func:`streams.handling.handle_batch`).

The state is held the same way: each event reads the state the record's previous event left (its stored
form, the codec's JSON, so the logic sees what a stored and reloaded state looks like), and only the last
is written to the table: one changelog record per record and batch instead of one per event (a quote whose
header and 5 lines come in one batch: one record instead of 6).

Outputs before state still holds across a crash: a record's state is stored at its last event of the
batch, before its writes are sent, and the batch is acknowledged only after both, so after a crash its
events are read again. The first of them is newer than the stored state when the crash came before the
store (the events are handled again, as the first time), or at or before it when it came after (a replay
re-sends the state's last emission, :func:`streams.join.core.replay`, which is the write that was held).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from faust.types import EventT

TargetWrite = tuple[str, bytes, bytes]  # (topic, target key, encoded value)
HeldState = tuple[bytes | None, EventT[Any]]  # (the stored form, None: removed; the event that left it)


class HeldWrites:
    """Per record key, the writes and the state held until its last event of the current batch."""

    def __init__(self) -> None:
        self._last: dict[bytes, int] = {}  # record key -> id() of its last event in the batch
        self._held: dict[bytes, dict[tuple[str, bytes], bytes]] = {}
        self._states: dict[bytes, HeldState] = {}

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
        """The records holding writes or a state."""
        return list(self._held.keys() | self._states.keys())

    def held(self, key: bytes) -> list[TargetWrite]:
        return [(topic, target_key, value) for (topic, target_key), value in self._held.get(key, {}).items()]

    def sent(self, key: bytes, write: TargetWrite) -> None:
        """``write`` reached the producer: it is no longer held."""
        held = self._held.get(key, {})
        held.pop((write[0], write[1]), None)
        if not held:
            self._held.pop(key, None)

    def hold_state(self, key: bytes, stored: bytes | None, event: EventT[Any]) -> None:
        """The record's state after ``event``, in its stored form (None: the record is gone)."""
        self._states[key] = (stored, event)

    def state(self, key: bytes) -> HeldState | None:
        """The state held for ``key`` (None: nothing held, the table has the latest)."""
        return self._states.get(key)

    def states(self) -> dict[bytes, bytes | None]:
        """Every held state, by record key."""
        return {key: stored for key, (stored, _event) in self._states.items()}

    def take_state(self, key: bytes) -> HeldState | None:
        """The state to store now, no longer held."""
        return self._states.pop(key, None)
