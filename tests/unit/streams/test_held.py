"""A joining record's writes in one batch: held until its last event, the last write per target key sent."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from p2c.streams.join.held import HeldWrites


def event(key: bytes | None) -> Any:
    return SimpleNamespace(message=SimpleNamespace(key=key))


def test_only_each_records_last_event_of_the_batch_sends() -> None:
    held = HeldWrites()
    batch = [event(b"q-1"), event(b"q-2"), event(b"q-1"), event(None)]
    held.plan(batch)
    assert [held.last_of_its_record(e) for e in batch] == [False, True, True, True]
    assert held.last_of_its_record(event(b"q-9"))  # not in the batch: nothing to wait for


def test_a_later_write_to_a_target_key_replaces_the_held_one_and_others_are_kept_in_order() -> None:
    held = HeldWrites()
    held.hold(b"q-1", [("quotations", b"usmf|OLD", b"delete"), ("quotations", b"usmf|Q1", b"v5")])
    held.hold(b"q-1", [("quotations", b"usmf|Q1", b"v6")])
    held.hold(b"q-2", [("quotations", b"usmf|Q2", b"v1")])
    assert held.held(b"q-1") == [("quotations", b"usmf|OLD", b"delete"), ("quotations", b"usmf|Q1", b"v6")]
    for write in held.held(b"q-1"):
        held.sent(b"q-1", write)
    assert held.held(b"q-1") == [] and held.held(b"q-2") == [("quotations", b"usmf|Q2", b"v1")]


def test_a_records_state_is_held_until_taken_the_latest_of_the_batch_and_a_removal_too() -> None:
    held = HeldWrites()
    first, second, third = event(b"q-1"), event(b"q-1"), event(b"q-2")
    assert held.state(b"q-1") is None  # nothing held: the table has the latest
    held.hold_state(b"q-1", b'{"v": 1}', first)
    held.hold_state(b"q-1", b'{"v": 2}', second)
    held.hold_state(b"q-2", None, third)  # the record is gone
    assert held.state(b"q-1") == (b'{"v": 2}', second)
    assert held.states() == {b"q-1": b'{"v": 2}', b"q-2": None}
    assert sorted(held.holding()) == [b"q-1", b"q-2"]
    assert held.take_state(b"q-1") == (b'{"v": 2}', second)
    assert held.take_state(b"q-1") is None and held.states() == {b"q-2": None}
