"""No offset counts as done unless an agent processed it: the two ways Faust lost records around rebalances."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterator, Mapping
from types import SimpleNamespace
from typing import Any

import faust
import pytest
from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.types import TP
from faust.types.tuples import ConsumerMessage
from intervaltree import IntervalTree
from mode.utils.queues import FlowControlQueue

from p2c.settings import KafkaSettings
from p2c.streams import faust_adapter
from p2c.streams.app import create_app
from p2c.streams.faust_adapter import FetchedHighwatersConsumer
from p2c.streams.settings import StreamsSettings

CHANGES = TP("p2c.src.crm.accounts", 1)
CHANGELOG = TP("p2c-streams-accounts-changelog", 1)


class Consumer(SimpleNamespace):
    """The state the adapter reads, with Faust's read offset at ``read`` and a recorded ``seek_wait``."""

    def __init__(self, read: int | None) -> None:
        super().__init__(
            app=SimpleNamespace(topics=SimpleNamespace(acks_enabled_for=lambda topic: topic == CHANGES.topic)),
            _read_offset=defaultdict(lambda: None, {CHANGES: read, CHANGELOG: read}),
            _jumped_to={},
            _expected={},
            _gap=defaultdict(IntervalTree),
            sought=[],
        )

    async def seek_wait(self, partitions: dict[TP, int]) -> None:
        self.sought.append(dict(partitions))
        self._read_offset.update(partitions)  # what Faust's seek_wait does

    def _expect(self, tp: TP, offset: int) -> None:
        FetchedHighwatersConsumer._expect(self, tp, offset)  # type: ignore[arg-type]

    async def _seek_to(self, tp: TP, offset: int) -> bool:
        return await FetchedHighwatersConsumer._seek_to(self, tp, offset)  # type: ignore[arg-type]


def message(tp: TP, offset: int) -> Any:
    return SimpleNamespace(tp=tp, topic=tp.topic, offset=offset)


def handed_on(consumer: Consumer, tp: TP, offset: int) -> bool:
    """Whether the adapter hands the record on; if so, Faust's fetch loop reads it (its read offset moves)."""
    sought_back = asyncio.run(FetchedHighwatersConsumer._sought_back(consumer, tp, message(tp, offset)))  # type: ignore[arg-type]
    if not sought_back:
        consumer._read_offset[tp] = offset
    return not sought_back


def test_records_in_order_are_handed_on() -> None:
    state = Consumer(read=22)
    assert all(handed_on(state, CHANGES, offset) for offset in (23, 24, 25))
    assert state.sought == []


def test_a_jump_is_read_again_instead_of_counting_as_acked() -> None:
    """Faust would record 23-27 as a gap that counts as acked, and commit past them."""
    state = Consumer(read=22)
    assert not handed_on(state, CHANGES, 28)
    assert state.sought == [{CHANGES: 22}]  # Faust's read offset may be the last read or the next: both re-read
    assert [o for o in range(22, 30) if handed_on(state, CHANGES, o)] == list(range(22, 30))
    assert state._jumped_to == {}  # read again past the jump: nothing remembered


def test_the_same_jump_after_reading_again_is_a_real_gap_in_the_log() -> None:
    """A compacted or transactional topic has gaps: read once more, then handed on (no endless seeking)."""
    state = Consumer(read=22)
    assert not handed_on(state, CHANGES, 28)
    assert handed_on(state, CHANGES, 22)
    assert handed_on(state, CHANGES, 28)
    assert state.sought == [{CHANGES: 22}]


def test_after_a_seek_the_record_sought_comes_first() -> None:
    """Faust's read offset is then the offset sought: it let the next one through, and the one sought was lost."""
    state = Consumer(read=33)
    state._expected[CHANGES] = 33  # sought to the committed offset, 33
    assert not handed_on(state, CHANGES, 34)
    assert state.sought == [{CHANGES: 33}]
    assert [o for o in (33, 34, 35) if handed_on(state, CHANGES, o)] == [33, 34, 35]


def test_a_gap_in_the_log_right_after_a_seek_is_marked_as_one_for_the_commit() -> None:
    state = Consumer(read=33)
    state._expected[CHANGES] = 33
    assert not handed_on(state, CHANGES, 35)
    assert handed_on(state, CHANGES, 35)  # the same jump again: 33 and 34 are not in the log
    assert state.sought == [{CHANGES: 33}]
    assert state._gap[CHANGES].at(33) and state._gap[CHANGES].at(34) and not state._gap[CHANGES].at(35)


def test_topics_without_acks_keep_faust_gaps() -> None:
    """Table changelogs are compacted and not acked: their gaps stay Faust's business."""
    state = Consumer(read=22)
    assert handed_on(state, CHANGELOG, 28)
    assert state.sought == []


@pytest.fixture
def app() -> Iterator[faust.App]:
    """A worker's Faust app (transport installed), on its own event loop; closed afterwards."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    app = create_app(KafkaSettings(), StreamsSettings())
    yield app
    thread_loop = faust_adapter.consumer_thread_loop(app)
    if thread_loop is not None:
        thread_loop.close()
    asyncio.set_event_loop(None)
    loop.close()


def queued(app: faust.App, *events: Any) -> FlowControlQueue[Any]:
    queue: FlowControlQueue[Any] = FlowControlQueue(maxsize=10, flow_control=app.flow_control, clear_on_resume=True)
    for event in events:
        queue.put_nowait(event)
    return queue


def test_a_record_one_agent_took_and_another_had_queued_is_released_when_a_rebalance_clears_the_queues(
    app: faust.App,
) -> None:
    """Two agents read the accounts topic; Faust's wait_empty waited forever for the copy it had cleared."""
    consumer = app.consumer
    assert isinstance(consumer, FetchedHighwatersConsumer)
    taken = record(23)
    taken.incref(2)  # the conductor hands it to both agents
    taken.tracked = True  # the flow agent took its copy: it is processing it
    queue = queued(app, SimpleNamespace(message=taken))  # the join agent's copy still waits in its queue
    app.flow_control.clear()  # a rebalance
    assert queue.empty() and taken.refcount == 1 and not taken.acked
    assert taken.ack(consumer) is False  # the flow agent is done: the record is done, but not counted
    assert taken.acked and consumer._acked[CHANGES] == []  # read again from the committed offset


def test_a_record_no_agent_took_is_released_without_counting(app: faust.App) -> None:
    consumer = app.consumer
    assert isinstance(consumer, FetchedHighwatersConsumer)
    untaken = record(24)
    untaken.incref(2)
    queues = [queued(app, SimpleNamespace(message=untaken)) for _agent in range(2)]  # Faust keeps them weakly
    app.flow_control.clear()
    assert all(queue.empty() for queue in queues)
    assert untaken.acked and consumer._acked[CHANGES] == []


def record(offset: int, generation_id: int = 0) -> ConsumerMessage:
    return ConsumerMessage(
        CHANGES.topic, CHANGES.partition, offset, 0.0, 0, [], b"k", b"v", None, tp=CHANGES, generation_id=generation_id
    )


def test_a_record_a_stream_skipped_across_a_rebalance_does_not_count_as_acked(app: faust.App) -> None:
    """Faust's streams skip and ack a record fetched in an older generation (faust-streaming #221)."""
    consumer = app.consumer
    app.flow_control.resume()
    app.consumer_generation_id = 5
    assert isinstance(consumer, FetchedHighwatersConsumer)
    stale = record(23, generation_id=4)
    stale.incref()
    assert stale.ack(consumer) is False  # what a stream does with a record it skips
    assert stale.acked and consumer._acked[CHANGES] == []  # done with here, read again from the committed offset


def test_a_record_skipped_while_the_flow_is_stopped_does_not_count_as_acked(app: faust.App) -> None:
    consumer = app.consumer
    assert isinstance(consumer, FetchedHighwatersConsumer)
    app.flow_control.suspend()
    skipped = record(23)
    skipped.incref()
    assert skipped.ack(consumer) is False and consumer._acked[CHANGES] == []


def test_a_record_below_faust_read_offset_is_handed_on_not_dropped() -> None:
    """After a seek the fetch loop can set its read offset past the seek's; Faust then drops what it reads."""
    state = Consumer(read=89)  # sought to 74, then overwritten by a record of before the seek
    assert [o for o in range(74, 92) if handed_on(state, CHANGES, o)] == list(range(74, 92))
    assert state.sought == []


def test_records_a_rebalance_cleared_are_read_again(app: faust.App) -> None:
    """Faust's read offset had passed them (they were handed to the agents): it goes back below them."""
    consumer = app.consumer
    assert isinstance(consumer, FetchedHighwatersConsumer)
    cleared = [record(offset) for offset in (40, 41, 42)]
    for r in cleared:
        r.incref()
    consumer._read_offset[CHANGES] = 42
    queue = queued(app, *[SimpleNamespace(message=r) for r in cleared])
    app.flow_control.clear()
    assert queue.empty() and consumer._read_offset[CHANGES] == 39  # the next record, 43, is a jump: read again
    # (when no record comes after them, the tail look reads them again: the tests below)


def test_records_the_commit_waits_for_that_no_agent_has_are_read_again(app: faust.App) -> None:
    """Committed at 33, 35-36 done, 33-34 nowhere (dropped around a rebalance): seen twice, sought back to 33."""
    consumer = app.consumer
    assert isinstance(consumer, FetchedHighwatersConsumer)
    app.flow_control.resume()
    sought: list[dict[TP, int]] = []

    async def seek_wait(partitions: Mapping[TP, int]) -> None:
        sought.append(dict(partitions))

    consumer.seek_wait = seek_wait  # type: ignore[method-assign]
    consumer._committed_offset[CHANGES] = 33
    consumer._acked[CHANGES] = [35, 36]
    queue = queued(app, SimpleNamespace(message=record(34)))  # 34 still waits in a queue: in progress
    asyncio.run(consumer.reread_holes())
    asyncio.run(consumer.reread_holes())
    assert sought == []
    queue.clear()
    asyncio.run(consumer.reread_holes())  # first seen
    assert sought == []
    asyncio.run(consumer.reread_holes())  # seen again
    assert sought == [{CHANGES: 33}]


def seeks_recorded(app: faust.App, consumer: FetchedHighwatersConsumer) -> list[dict[TP, int]]:
    """The consumer's seeks, recorded instead of made, with the flow running and the changes topic acked."""
    app.flow_control.resume()
    app.topics.acks_enabled_for = lambda topic: topic == CHANGES.topic  # type: ignore[method-assign]
    sought: list[dict[TP, int]] = []

    async def seek_wait(partitions: Mapping[TP, int]) -> None:
        sought.append(dict(partitions))

    consumer.seek_wait = seek_wait  # type: ignore[method-assign]
    return sought


def fetched_past_commit(app: faust.App) -> tuple[FetchedHighwatersConsumer, list[dict[TP, int]]]:
    """The app's consumer, committed at 40 and fetching from 43 (none of 40-42 acked), and its seeks."""
    consumer = app.consumer
    assert isinstance(consumer, FetchedHighwatersConsumer)
    sought = seeks_recorded(app, consumer)
    consumer._committed_offset[CHANGES] = 40
    consumer.fetch_positions = lambda: {CHANGES: 43}  # type: ignore[method-assign]
    return consumer, sought


def test_records_fetched_that_no_agent_has_with_none_after_them_are_read_again(app: faust.App) -> None:
    """Committed at 40, fetched up to 42 and cleared as the worker resumed, the partition's last records: no
    later record comes to show the jump (measured: a contact never reached the ERP). Seen twice, sought back."""
    consumer, sought = fetched_past_commit(app)
    queue = queued(app, SimpleNamespace(message=record(42)))  # 42 still waits in a queue: in progress
    asyncio.run(consumer.reread_holes())
    asyncio.run(consumer.reread_holes())
    assert sought == []
    queue.clear()
    consumer._handing_on = True  # a fetched batch on its way to the queues
    asyncio.run(consumer.reread_holes())
    asyncio.run(consumer.reread_holes())
    assert sought == []
    consumer._handing_on = False
    asyncio.run(consumer.reread_holes())  # first seen
    assert sought == []
    asyncio.run(consumer.reread_holes())  # seen again
    assert sought == [{CHANGES: 40}]


def test_a_tail_read_again_with_no_record_of_it_handed_on_is_a_gap_in_the_log(app: faust.App) -> None:
    consumer, sought = fetched_past_commit(app)
    for _look in range(4):  # sought back after two looks; after two more, nothing of 40-42 came: no records
        asyncio.run(consumer.reread_holes())
    assert sought == [{CHANGES: 40}]
    assert consumer._gap[CHANGES].at(40) and consumer._gap[CHANGES].at(42) and not consumer._gap[CHANGES].at(43)
    for _look in range(2):
        asyncio.run(consumer.reread_holes())
    assert sought == [{CHANGES: 40}]


def test_a_tail_read_again_whose_records_came_is_not_a_gap(app: faust.App) -> None:
    consumer, sought = fetched_past_commit(app)
    for _look in range(2):
        asyncio.run(consumer.reread_holes())
    consumer._expected.pop(CHANGES)  # record 40 was handed on again (and dropped again, say)
    for _look in range(2):
        asyncio.run(consumer.reread_holes())
    assert sought == [{CHANGES: 40}, {CHANGES: 40}] and not consumer._gap[CHANGES]


def test_a_hole_before_the_first_commit_holds_the_commit_and_is_read_again(app: faust.App) -> None:
    """Faust keeps a commit at 0 as None and then commits over any hole at the head of the acks."""
    consumer = app.consumer
    assert isinstance(consumer, FetchedHighwatersConsumer)
    sought = seeks_recorded(app, consumer)
    faust_adapter.install_commit_guard()
    consumer._acked[CHANGES] = [2, 3]  # 0 and 1 dropped; nothing committed on the partition yet
    assert consumer._new_offset(CHANGES) is None
    asyncio.run(consumer.reread_holes())
    asyncio.run(consumer.reread_holes())
    assert sought == [{CHANGES: 0}]


def test_a_commit_waits_for_the_counts_and_is_put_off_when_they_could_not_be_published(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Counts before offsets (9.): a crash after the commit must not lose the counts of what it covers."""
    calls: list[str] = []

    async def faust_commit(self: Any, offsets: dict[TP, int], start_new_transaction: bool = True) -> bool:
        calls.append("commit")
        return True

    monkeypatch.setattr(aiokafka_driver.Consumer, "_commit_offsets", faust_commit)
    consumer = object.__new__(FetchedHighwatersConsumer)
    consumer.transport = SimpleNamespace(publish_counts=lambda: calls.append("counts"))  # type: ignore[assignment]
    assert asyncio.run(consumer._commit_offsets({CHANGES: 5}))
    assert calls == ["counts", "commit"]

    def unpublished() -> None:
        raise RuntimeError("streams: the broker did not acknowledge its counts in 10 s")

    consumer.transport = SimpleNamespace(publish_counts=unpublished)  # type: ignore[assignment]
    assert not asyncio.run(consumer._commit_offsets({CHANGES: 6}))
    assert calls == ["counts", "commit"]
