"""The commit guard keeps Faust from committing past a message that is still being processed."""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace
from typing import Any

from faust.transport.consumer import Consumer
from faust.types import TP
from intervaltree import Interval, IntervalTree

from p2c.streams import faust_adapter

TOPIC = TP("p2c.src.crm.accounts", 2)


def consumer(committed: int, acked: list[int], in_flight: list[int]) -> Any:
    """Just the state Faust's ``_new_offset`` reads, as a consumer after a commit at ``committed``."""
    return SimpleNamespace(
        _acked=defaultdict(list, {TOPIC: list(acked)}),
        _acked_index=defaultdict(set, {TOPIC: set(acked)}),
        _gap=defaultdict(list),
        _committed_offset=defaultdict(lambda: None, {TOPIC: committed}),
        _unacked_messages=[SimpleNamespace(tp=TOPIC, offset=o, acked=False) for o in in_flight],
    )


def test_faust_alone_commits_over_a_message_in_flight_at_the_head() -> None:
    """The bug being guarded against (faust-streaming #606), shown on Faust's own function."""
    faust_new_offset = getattr(Consumer._new_offset, "__wrapped__", Consumer._new_offset)
    state = consumer(committed=10, acked=[11, 12, 13], in_flight=[10])
    assert faust_new_offset(state, TOPIC) == 14  # 10 would be lost after a crash


def test_a_commit_never_passes_the_lowest_offset_in_flight() -> None:
    faust_adapter.install_commit_guard()
    state = consumer(committed=10, acked=[11, 12, 13], in_flight=[10])
    assert Consumer._new_offset(state, TOPIC) is None
    assert state._acked[TOPIC] == [11, 12, 13]  # kept for when 10 is done

    state._unacked_messages = []
    state._acked[TOPIC] = [10, 11, 12, 13]
    state._acked_index[TOPIC] = {10, 11, 12, 13}
    assert Consumer._new_offset(state, TOPIC) == 14


def test_acks_before_the_message_in_flight_are_committed() -> None:
    faust_adapter.install_commit_guard()
    state = consumer(committed=10, acked=[10, 11, 12], in_flight=[13, 14])
    assert Consumer._new_offset(state, TOPIC) == 13


def test_a_record_missing_at_the_committed_offset_holds_the_commit() -> None:
    """Faust commits over one missing offset at the head (``min(acked) - committed > 1``): 10, never done, lost."""
    faust_new_offset = getattr(Consumer._new_offset, "__wrapped__", Consumer._new_offset)
    assert faust_new_offset(consumer(committed=10, acked=[11, 12, 13], in_flight=[]), TOPIC) == 14
    faust_adapter.install_commit_guard()
    state = consumer(committed=10, acked=[11, 12, 13], in_flight=[])
    assert Consumer._new_offset(state, TOPIC) is None  # the worker reads 10 again (test_faust_skips)
    assert state._acked[TOPIC] == [11, 12, 13]


def test_a_gap_in_the_log_at_the_committed_offset_is_committed_over() -> None:
    faust_adapter.install_commit_guard()
    state = consumer(committed=10, acked=[11, 12, 13], in_flight=[])
    state._gap[TOPIC] = IntervalTree([Interval(10, 11)])  # read twice: no record 10 in the log
    assert Consumer._new_offset(state, TOPIC) == 14


def test_without_messages_in_flight_faust_decides_as_before() -> None:
    faust_adapter.install_commit_guard()
    assert Consumer._new_offset(consumer(committed=10, acked=[10, 11], in_flight=[]), TOPIC) == 12
