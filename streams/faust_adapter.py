"""Every use of Faust's and aiokafka's private parts, in one place, each with why no public way exists.

1. The commit guard (``Consumer._new_offset``, ``_acked``, ``_unacked_messages``). Faust commits the longest
   run of acked offsets after the last commit. Its guard against a gap at the head of that run lets one
   missing offset through (``min(acked) - committed > 1``), meant for compacted topics: a message still in
   flight at exactly the committed offset is then committed over, and lost if the worker is killed before it
   finishes. Upstream: faust-streaming issue #606. p2c measured the loss: one account in 5,000 went missing
   after a SIGKILL of the stream worker. The guard caps every commit at the lowest offset still in flight on
   that partition, and logs when it held a commit back; it commits nothing while the committed offset itself
   was never done (8d.). Faust has no hook for what it commits.
2. Where table recovery's highwaters come from (``AIOKafkaConsumerThread._highwaters``, through
   ``Consumer._new_consumer_thread``). The embedded broker (Tansu) answers ListOffsets too low after a
   multi-record batch (:mod:`p2c.streams.recovery` has the measurements); Faust has no setting or hook for the
   end offsets recovery reads up to, so the thread asks :func:`p2c.streams.recovery.fetched_highwaters`.
3. aiokafka's fetch wait (``AIOKafkaConsumer._fetch_max_wait_ms``, set in ``_create_worker_consumer``).
   Faust passes a fixed ``fetch_max_wait_ms=1500`` to aiokafka and has no setting for it (none in
   faust-streaming 0.15.3; no upstream issue found when this was written: a ``consumer_fetch_max_wait``
   setting would be the fix). Measured on the embedded broker: a hop through a topic 0.26-0.76 s with 1.5 s,
   16-63 ms with 100 ms. The wait adapts (:mod:`p2c.streams.fetch_wait`: short while records flow, long when
   idle): aiokafka has no setting for that either, so :func:`p2c.streams.fetch_wait.adapt` wraps its fetcher's
   ``_proc_fetch_request`` (True when a fetch brought records) and sets ``Fetcher._fetch_max_wait_ms``, which
   it reads for every request it builds (kept beside the policy: this module is long enough).
4. Faust's table manager starts with a fixed 1 s sleep (``TableManager.on_start``, then the private
   ``_update_channels``) so that agents started late can still register tables; there is no setting for
   it. Every table here is registered while the app is built (:class:`PromptTableManager`).
5. Whether an app has made its consumer yet (``App._consumer``): ``App.consumer`` makes one when asked,
   which a timer that only reads the assignment must not do (:func:`started_consumer`).
6. Rewinding partitions for a replay (``Consumer._read_offset``, ``_committed_offset``, ``_acked``,
   ``_acked_index``, ``_gap``, ``_commit``): Faust's public ``seek`` moves the read position only. Its acks and
   committed offset stay ahead, so it would not track (nor ever commit) what it reads again below the old
   committed offset, and a crash during the replay would lose the rest of it. :func:`rewind` also forgets the
   acks and gaps of the partition and commits the new position, so the replay is tracked like any reading.
7. Which event a table write belongs to (``faust.streams._current_event``). A table sends its changelog record
   to the partition of ``current_event()``; in a batch from ``Stream.take_events`` that is the batch's last
   event, not the one being handled, so an agent that handles a batch sets it per event (:func:`handling`).
   Faust has no public way to set it.
8. Offsets Faust counts as done without processing them (``Consumer.getmany``, ``ack``, ``_read_offset``,
   ``seek_wait``, ``FlowControlEvent.clear``), all seen on Apache Kafka around rebalances (a broker killed, a
   worker added):
   a. Faust's fetch loop treats a jump in a partition's offsets as a "gap" that counts as acked: meant for
      compacted topics and transaction markers. Here a jump means records no agent saw. Measured on the
      three-node cluster (a worker added): Faust seeks to the committed offsets twice in one generation (on
      the assignment, and again when table recovery resumes the streams); the records read between the two
      seeks are cleared from the agents' queues on resume, and records fetched before the second seek took
      effect arrive after it, past Faust's read offset: a jump of 16 offsets, committed without being
      processed. :meth:`FetchedHighwatersConsumer.getmany` seeks back to Faust's read offset instead and
      drops the rest of that partition's batch; only the same jump seen again after that re-read is a real
      gap in the log, handed on to Faust as before. The other way round, the fetch loop, back from a record
      of before a seek, sets its read offset past the seek's, and then drops the records read again as read
      already: a record below Faust's read offset is handed on (at worst processed twice). Right after a
      seek Faust's read offset is the offset sought, not the last one handed on, so the first record after
      it was let through when it was one past it: every seek (``seek_to_committed``, ``seek``) records the
      offset that must come next, and anything else first is a jump.
   b. A stream skips a record fetched before a rebalance (its generation is over, or the flow is stopped)
      and *acks* it (faust-streaming #221/#223): the commit then passes a record no agent processed, and
      the next owner of the partition starts after it. :meth:`FetchedHighwatersConsumer.ack` does not
      count such an ack, so the record is read again from the committed offset.
   c. A record two agents read (an accounts change feeds the accounts flow and the accounts join) is done
      when both have acked it. A rebalance clears the agents' queues (``FlowControlEvent.clear``): when one
      agent had taken the record and the other's copy was cleared, the record was never done, and Faust's
      ``wait_empty`` waited for it forever, holding the rebalance (the worker hung, its partitions with it).
      :func:`install_transport` makes clearing release the cleared copies; such a record does not count
      as done (the agent whose copy was cleared never saw it), and Faust's read offset is moved back below
      it, so that the next record fetched is a jump and the cleared ones are read again (a.). Clearing also
      happens on resume, after the seek to the committed offsets: without this, records fetched between
      that seek and the resume were cleared and never read again (one account in 600 missing).
   d. Whatever else drops a record (in ways a. to c. do not see), its partition's commit must not pass it,
      and it must be read again. Faust's ``_new_offset`` commits over one missing offset right at the
      committed one (it refuses ``min(acked) - committed > 1`` only; faust-streaming #606): the commit guard
      (1.) holds any commit whose committed offset was neither acked nor a gap in the log. And a worker
      looks every ``HOLE_CHECK_S`` for a hole at the head of a partition's acks that no agent has in hand or
      in its queue; seen twice in a row, it seeks the partition back to the committed offset
      (:meth:`FetchedHighwatersConsumer.reread_holes`). Measured on the three-node cluster (a worker added,
      then one removed): a partition's commit stayed at 33 for minutes with its 131 later records read,
      and the accounts at offsets 33, 34, 35 ... never reached the ERP; no jump was logged.
      The same look covers the tail: records fetched (aiokafka's position is past them) that no agent has
      and none acked, with no later record to show the jump (a. and c. need one). Seen once in a full test
      run on the embedded broker: a contact created just before the worker was killed, the last record of
      its partition, never reached the ERP, and the partition's commit stayed below it (most likely fetched
      and cleared as the restarted worker resumed: the passing runs show such jumps). Seen twice, the
      partition is sought back to its committed offset; the same tail seen again with no record of it
      handed on since is a gap in the log (as in a.).
   e. A record an agent is still retrying when a rebalance starts (the registry down, say) is given back
      (:func:`give_back`): Faust's rebalance waits until every record handed to an agent is acked
      (``wait_empty``), and a retry may last the error policy's budget (300 s). Measured: a worker retrying
      one account held the group's rebalance, and a joining worker waited, for as long as the retry lasted,
      and the account was then dead-lettered for a registry that had long come back. Given back, the record
      is acked without counting as done (as in b.), the partition's commit stays below it, and its next
      owner reads it again. The agent sees that its record was taken (:func:`superseded`) the way Faust's
      streams do: the flow is stopped or the consumer generation moved on.
   Faust has no hook for any of these; upstream: faust-streaming #216, #221, #606.
9. Counts before offsets (``Consumer._commit_offsets``): the worker publishes its counts (p2c.metrics) before
   each commit, so a SIGKILL after a commit cannot lose the counts of records the next run will not read
   again (measured: 195 of 5,712 account events read and never counted after the worker was killed mid-load).
   Faust's ``on_tp_commit`` monitor hook runs after the commit, too late.

10. An agent's batch wait (``Stream.wait_for_stopped`` as ``take_events`` calls it, ``Stream._processors``):
   ``take_events`` wakes every ``within`` seconds even with nothing buffered (~1.7 % of a core for an idle
   worker); :class:`p2c.streams.batch_wait.QuietWait` makes it sleep until an event arrives. Faust has no
   setting for it; kept in its own module, beside :func:`p2c.streams.handling.in_batches` that installs it.

Wiring: :func:`install_transport` sets the app's consumer transport before any topic or agent is declared::

    FetchedHighwatersTransport  (faust.transport.drivers.aiokafka.Transport)
      .Consumer = FetchedHighwatersConsumer        (...aiokafka.Consumer)
        thread: FetchedHighwatersThread            (...aiokafka.AIOKafkaConsumerThread), overrides _highwaters,
                                                   on_start (the adaptive fetch wait, 3.)
        getmany, ack, seek_to_committed, seek: no offset counted as done unless an agent processed it (8.)
        timer reread_holes: records the commit waits for and nobody has are read again (8d.)
        _commit_offsets: the counts published first (9.), set by :func:`publish_counts_before_commits`
    app.flow_control.clear: releases the cleared copies of records (8c.)
    superseded, give_back: an agent's record a rebalance took while it was being retried (8e.)
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, ClassVar, cast

import faust
import faust.streams as faust_streams
from aiokafka.partitioner import murmur2
from faust.tables import TableManager
from faust.transport.consumer import Consumer
from faust.transport.drivers import aiokafka as driver
from faust.types import TP, AppT, ConsumerT, EventT, Message

from p2c.settings import KafkaSettings
from p2c.streams import fetch_wait, recovery

log = logging.getLogger("p2c.streams")

#: how often a worker looks for records its commit waits for that no agent has any more (8d.)
HOLE_CHECK_S = 2.0


def started_consumer(app: faust.App) -> ConsumerT | None:
    """The app's consumer once it has one; never makes one."""
    return app.consumer if app._consumer is not None else None


def owned_partitions(app: faust.App, topic: str) -> frozenset[int] | None:
    """The partitions of ``topic`` this worker's consumer is assigned now (None: it has no consumer yet)."""
    consumer = started_consumer(app)
    if consumer is None:
        return None
    return frozenset(tp.partition for tp in consumer.assignment() if tp.topic == topic)


def partition_of(key: bytes, partitions: int) -> int:
    """The partition of ``key`` under the default partitioner of Kafka, aiokafka and p2c's producers (murmur2)."""
    return int(murmur2(key) & 0x7FFFFFFF) % partitions


def consumer_thread(app: faust.App) -> FetchedHighwatersThread:
    """The aiokafka consumer thread of an app whose transport :func:`install_transport` set."""
    return cast(FetchedHighwatersConsumer, app.consumer)._thread


def consumer_thread_loop(app: faust.App) -> Any:
    """The event loop of the app's aiokafka consumer thread, when it has one (tests close it)."""
    return getattr(getattr(app._consumer, "_thread", None), "thread_loop", None)


# ---- 1. the commit guard ------------------------------------------------------------------------------

_installed = False


def _in_flight(consumer: Any, tp: Any) -> int | None:
    """The lowest offset of ``tp`` handed to a stream and not acked yet."""
    offsets = [m.offset for m in list(consumer._unacked_messages) if m.tp == tp and not m.acked]
    return min(offsets) if offsets else None


def _head_hole(consumer: Any, tp: TP) -> tuple[int, int] | None:
    """``(committed, first acked)`` when records from the committed offset on were never done (8d.).

    Faust's ``_new_offset`` refuses a gap at the head of the acks only when it is two offsets or more
    (``min(acked) - committed > 1``), and not at all when nothing was committed yet (Faust keeps a commit at
    0 as None; the worker reads from the earliest offset then): a record missing there is committed over.
    """
    acked = consumer._acked.get(tp)
    if not acked:  # only acked topics have acks
        return None
    return _undone_before(consumer, tp, min(acked))


def _undone_before(consumer: Any, tp: TP, end: int) -> tuple[int, int] | None:
    """``(committed, end)`` when the records from the committed offset (None, Faust's 0, counting as 0) to
    ``end`` were never done: ``end`` is past it and the committed offset is no gap in the log."""
    committed = consumer._committed_offset.get(tp) or 0
    gaps = consumer._gap.get(tp)
    if end <= committed or (gaps and gaps.at(committed)):
        return None
    return committed, end


def install_commit_guard() -> None:
    """Wrap ``Consumer._new_offset`` once per process (faust-streaming #606)."""
    global _installed
    if _installed:
        return
    original = Consumer._new_offset

    def _new_offset(self: Any, tp: Any) -> int | None:
        if _head_hole(self, tp) is not None:
            return None  # the committed offset itself was never processed: no commit past it (8d.)
        limit = _in_flight(self, tp)
        if limit is None:
            return original(self, tp)
        acked: list[int] = self._acked[tp]
        held = [offset for offset in acked if offset >= limit]
        if held:  # set aside the acks behind the in-flight message; they are committed once it is done
            acked[:] = [offset for offset in acked if offset < limit]
        try:
            offset: int | None = original(self, tp)
        finally:
            if held:
                acked.extend(held)
                acked.sort()
        if offset is not None and offset > limit:
            log.warning("commit of %s held back at offset %d: it is still being processed", tp, limit)
            return limit
        if held and offset is None:
            log.debug("commit of %s waits for offset %d in flight", tp, limit)
        return offset

    _new_offset.__wrapped__ = original  # type: ignore[attr-defined]
    Consumer._new_offset = _new_offset  # type: ignore[method-assign]
    _installed = True


# ---- 2. and 3. highwaters from a fetch, a shorter fetch wait -------------------------------------------


class FetchedHighwatersThread(driver.AIOKafkaConsumerThread):
    """Faust's aiokafka consumer thread; its highwaters (what table recovery reads up to) come from a fetch."""

    logger = logging.getLogger("faust.transport.fetched")  # under "faust": as quiet as the rest of Faust

    def _create_worker_consumer(self, transport: Any) -> Any:
        """Faust's consumer, with fetches held at most ``fetch_wait.BUSY_WAIT_MS`` instead of Faust's fixed 1.5 s
        (longer once idle: :meth:`on_start`).

        aiokafka keeps one fetch in flight per broker, and on the embedded broker new records did not end it
        early: measured, a hop through a topic took 0.26-0.76 s with 1.5 s, 16-63 ms with 100 ms, and a quote
        left 1.0 s (p50) after its last dependency instead of 2.2 s.
        """
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = fetch_wait.BUSY_WAIT_MS
        return consumer

    async def on_start(self) -> None:
        await super().on_start()
        assert self._consumer is not None  # made by Faust's on_start
        fetch_wait.adapt(self._consumer._fetcher, fetch_wait.FetchWait())

    async def _highwaters(self, partitions: list[TP]) -> Mapping[TP, int]:
        transport = cast(FetchedHighwatersTransport, self.transport)
        if self.consumer.in_transaction:  # exactly-once reads up to the last stable offset: Faust's way
            return await super()._highwaters(partitions)
        found = await recovery.fetched_highwaters(transport.kafka, partitions)
        missing = [tp for tp in partitions if tp not in found]
        if missing:
            log.warning("no fetched end offset for %s: using the broker's reported end", missing)
            found.update(await super()._highwaters(missing))
        return found


class FetchedHighwatersConsumer(driver.Consumer):
    """Faust's aiokafka consumer: fetched highwaters, and no offset counted as done unless processed (8.)."""

    logger = logging.getLogger("faust.transport.fetched")
    _thread: FetchedHighwatersThread
    _committing = 0  #: commits under way (8d.)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: partitions sought back over a jump, with the offset they jumped to: the same jump again is real
        self._jumped_to: dict[TP, int] = {}
        #: partitions just sought, with the offset sought: the next record must be that one
        self._expected: dict[TP, int] = {}
        #: a hole seen at the head of a partition's acks, or at its tail: (committed, first acked or fetch
        #: position), re-read if seen again
        self._holes: dict[TP, tuple[int, int]] = {}
        #: tails sought back: the same tail again with nothing of it handed on is a gap in the log (8d.)
        self._tails_sought: dict[TP, tuple[int, int]] = {}
        #: a fetched batch is being handed on: its records are in no queue yet, nor acked (8d.)
        self._handing_on = False
        #: records a rebalance took from some agent's queue: not done, whoever else acks them (8c.)
        self.cleared: weakref.WeakSet[Message] = weakref.WeakSet()

    def _new_consumer_thread(self) -> FetchedHighwatersThread:
        return FetchedHighwatersThread(self, loop=self.loop, beacon=self.beacon)

    async def perform_seek(self) -> None:
        """Faust's seek to the committed offsets (each rebalance); jumps and holes seen before it are forgotten."""
        self._jumped_to.clear()
        self._holes.clear()
        self._tails_sought.clear()
        await super().perform_seek()

    async def seek_to_committed(self) -> Mapping[TP, int]:
        """Faust's seek to the committed offsets; each partition's next record is then the committed one."""
        offsets: Mapping[TP, int] = await super().seek_to_committed()
        for tp, offset in offsets.items():
            if offset is not None and offset >= 0:
                self._expect(tp, offset)
        return offsets

    async def seek(self, partition: TP, offset: int) -> None:
        """Faust's seek; the partition's next record is then ``offset``."""
        self._expect(partition, offset)
        await super().seek(partition, offset)

    def _expect(self, tp: TP, offset: int) -> None:
        if self.app.topics.acks_enabled_for(tp.topic):
            self._expected[tp] = offset

    async def _seek_to(self, tp: TP, offset: int) -> bool:
        """Seek ``tp`` to ``offset`` (its next record is then that one); false if a rebalance took it."""
        self._expect(tp, offset)
        try:
            await self.seek_wait({tp: offset})
        except Exception as exc:  # a rebalance took the partition meanwhile: it restarts from the commit
            log.info("%s not sought back (%r): it restarts from its committed offset", tp, exc)
            return False
        return True

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Message]]:
        """Faust's batch, except records after an offset jump on an acked topic: those are read again."""
        cut: set[TP] = set()  # partitions whose rest of this batch is stale: sought back
        try:
            async for tp, message in super().getmany(timeout):
                self._handing_on = True
                if tp in cut:
                    continue
                if await self._sought_back(tp, message):
                    cut.add(tp)
                    continue
                yield tp, message
        finally:
            self._handing_on = False

    async def _sought_back(self, tp: TP, message: Message) -> bool:
        """Whether ``message`` comes after offsets no agent saw; if so, seek back to read them.

        After a seek the next record must be the one sought (Faust's read offset is then the offset sought,
        and it would let the first record after it be skipped); otherwise it must follow the last one handed
        on. Without a seek since, Faust's read offset is the last one handed on, or the one last sought by a
        path that did not say so: the seek goes to it, not past it (at worst one record processed twice).
        """
        if not self.app.topics.acks_enabled_for(message.topic):
            return False  # table changelogs (compacted) and other unacked topics: gaps are Faust's business
        offset, faust_read = message.offset, self._read_offset[tp]
        expected = self._expected.pop(tp, None)
        last = faust_read if expected is None else expected - 1  # the offset handed on last
        if last is not None and offset > last + 1:
            if self._jumped_to.get(tp) != offset:
                log.warning(
                    "%s jumped from offset %d to %d over records never processed: reading them again", tp, last, offset
                )
                target = last + 1 if expected is not None else last
                if await self._seek_to(tp, max(target, 0)):
                    self._jumped_to[tp] = offset
                return True
            del self._jumped_to[tp]
            log.info("%s has no records %d-%d (read twice to make sure): a gap in the log", tp, last + 1, offset - 1)
            self._gap[tp].addi(last + 1, offset)  # Faust's own gap starts after its read offset, one too late
        elif offset >= self._jumped_to.get(tp, offset + 1):
            del self._jumped_to[tp]  # read again up to where it jumped: nothing was missing
        if faust_read is not None and offset < faust_read:
            # Faust would drop it as read already. After a seek that happens when the fetch loop, back from a
            # record of before the seek, set its read offset past the seek's (measured: 13 records of a
            # partition dropped after a worker was removed, and its commit stuck below them): hand it on.
            log.info("%s offset %d is below Faust's read offset %d: handed on, not dropped", tp, offset, faust_read)
            self._read_offset[tp] = offset
        return False

    @faust.Service.timer(HOLE_CHECK_S)
    async def _reread_holes_now_and_then(self) -> None:
        await self.reread_holes()

    async def reread_holes(self) -> None:
        """Read again what a partition's commit waits for when nobody has it any more (8d.).

        A hole at the head of the acks (records from the committed offset on that no agent has, in its queue
        or in hand, while later ones were done) holds the commit forever, and the records in it never reach
        their target. So does a hole at the tail: records fetched, none acked, none in hand. Seen twice in a
        row with nothing of it in flight, the partition is sought back to its committed offset.
        """
        app = self.app
        if self._committing or self._handing_on:
            return  # acks being committed are out of _acked; a batch being handed on is in no queue yet
        if app.rebalancing or not self.flow_active or not app.flow_control.is_active():
            self._holes.clear()
            return
        positions = self.fetch_positions()
        for tp in {*self._acked, *positions}:
            at_head = _head_hole(self, tp)
            hole = at_head or self._tail_hole(tp, positions.get(tp))
            if hole is None or self._in_progress(tp, hole[1]):
                self._holes.pop(tp, None)
                continue
            if self._holes.get(tp) != hole:
                self._holes[tp] = hole  # look again next time: it may be a record between two steps
                continue
            del self._holes[tp]
            if at_head is None and self._tail_read_again_in_vain(tp, hole):
                continue
            committed, end = hole
            log.warning(
                "%s offsets %d-%d were never processed (its commit waits at %d): reading them again",
                tp,
                committed,
                end - 1,
                committed,
            )
            self._jumped_to.pop(tp, None)
            await self._seek_to(tp, committed)

    def fetch_positions(self) -> dict[TP, int]:
        """The next offset aiokafka fetches, per assigned partition of an acked topic (read across threads: a
        snapshot, which is all :meth:`reread_holes` needs, since it acts only on what it sees twice)."""
        aiokafka_consumer = getattr(self._thread, "_consumer", None)
        subscription = aiokafka_consumer._subscription.subscription if aiokafka_consumer is not None else None
        assignment = subscription.assignment if subscription is not None else None
        if assignment is None:
            return {}
        positions = {}
        for tp in list(assignment.tps):
            state = assignment.state_value(tp)
            if state is not None and state.has_valid_position and self.app.topics.acks_enabled_for(tp.topic):
                positions[TP(tp.topic, tp.partition)] = state.position
        return positions

    def _tail_hole(self, tp: TP, position: int | None) -> tuple[int, int] | None:
        """``(committed, fetch position)`` when records were fetched past the committed offset and none of
        them was acked."""
        if position is None or self._acked.get(tp):
            return None  # with acks, the head hole, or the commit that follows them, shows what is missing
        return _undone_before(self, tp, position)

    def _tail_read_again_in_vain(self, tp: TP, hole: tuple[int, int]) -> bool:
        """Whether ``hole`` is a tail sought back already with no record of it handed on since: then the log
        has none there (a gap, marked as one for the commit, as in 8a.)."""
        committed, position = hole
        if self._tails_sought.get(tp) == hole and self._expected.get(tp) == committed:
            del self._tails_sought[tp]
            log.info("%s has no records %d-%d (read twice to make sure): a gap in the log", tp, committed, position - 1)
            self._gap[tp].addi(committed, position)
            return True
        self._tails_sought[tp] = hole
        return False

    def _in_progress(self, tp: TP, below: int) -> bool:
        """Whether a record of ``tp`` below offset ``below`` is in an agent's hands or queue."""
        if (limit := _in_flight(self, tp)) is not None and limit < below:
            return True
        return any(m.tp == tp and m.offset < below for m in queued_messages(self.app))

    def ack(self, message: Message) -> bool:
        """Faust's ack, except for a record a stream skipped without processing it (8b.)."""
        app = self.app
        if message in self.cleared or (
            not message.tracked
            and (message.generation_id != app.consumer_generation_id or not app.flow_control.is_active())
        ):
            message.acked = True  # done with here; read again from the committed offset after the rebalance
            log.debug("%s offset %d not processed (a rebalance): not counted as done", message.tp, message.offset)
            return False
        return super().ack(message)

    async def _commit_offsets(self, offsets: Mapping[TP, int], start_new_transaction: bool = True) -> bool:
        """Faust's commit, once the worker's counts are published (9.); put off if they could not be."""
        publish = cast(FetchedHighwatersTransport, self.transport).publish_counts
        if publish is not None:
            try:
                publish()
            except RuntimeError as exc:
                log.warning("%s: commit put off (its records are read again after a crash)", exc)
                return False
        self._committing += 1  # the acks it commits are gone from _acked, the committed offset not yet moved
        try:
            return await super()._commit_offsets(offsets, start_new_transaction)
        finally:
            self._committing -= 1


class FetchedHighwatersTransport(driver.Transport):
    """Faust's aiokafka transport with :class:`FetchedHighwatersConsumer`; knows p2c's Kafka settings."""

    Consumer: ClassVar[type[ConsumerT]] = FetchedHighwatersConsumer

    def __init__(self, *args: Any, kafka: KafkaSettings, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kafka = kafka
        self.publish_counts: Callable[[], None] | None = None


def publish_counts_before_commits(app: faust.App, publish: Callable[[], None]) -> None:
    """Make ``app``'s consumer call ``publish`` (which raises ``RuntimeError`` if it could not) before each commit."""
    cast(FetchedHighwatersTransport, app.transport).publish_counts = publish


def queued_messages(app: AppT) -> Iterator[Message]:
    """The records in the agents' queues (``FlowControlEvent._queues``), taken by no agent yet."""
    for queue in list(app.flow_control._queues):
        for event in list(getattr(queue, "_queue", ())):
            message = getattr(event, "message", None)
            if message is not None:
                yield message


def install_transport(app: faust.App, kafka: KafkaSettings) -> None:
    """Make ``app``'s consumer use fetched highwaters; call it before declaring topics, tables or agents."""
    app.transport = FetchedHighwatersTransport(app.conf.broker_consumer, app, kafka=kafka)
    flow = app.flow_control
    clear = flow.clear

    def release_then_clear() -> None:
        """Drop each queued record's reference as Faust clears the queue, so the record can be done (8c.)."""
        consumer = started_consumer(app)
        lowest: dict[TP, int] = {}
        for message in queued_messages(app):
            if not message.acked and isinstance(consumer, FetchedHighwatersConsumer):
                consumer.cleared.add(message)  # first: the ack below, if it is the last, is not counted
                message.ack(consumer)
                lowest[message.tp] = min(lowest.get(message.tp, message.offset), message.offset)
        if isinstance(consumer, FetchedHighwatersConsumer):
            for tp, offset in lowest.items():  # read again: the next record is a jump (8a.), or none is (8d.)
                read = consumer._read_offset[tp]
                if read is not None and read >= offset:
                    consumer._read_offset[tp] = max(offset - 1, 0)
        clear()

    flow.clear = release_then_clear  # type: ignore[method-assign]


# ---- 4. no fixed sleep before table recovery -----------------------------------------------------------


class PromptTableManager(TableManager):
    """Faust's TableManager, without the fixed 1 s sleep it starts with.

    Faust sleeps so that agents started late can still register their tables; every table here is
    registered while the app is built, before it starts. Measured: start-to-ready 2.1 s -> 1.1 s.
    """

    logger = logging.getLogger("faust.tables.prompt")  # under "faust": as quiet as the rest of Faust

    async def on_start(self) -> None:
        await self.sleep(0.01)
        if not self.should_stop:
            await self._update_channels()
            await self.recovery.start()


# ---- 6. rewinding partitions for a replay --------------------------------------------------------------


async def rewind(app: faust.App, offsets: Mapping[TP, int]) -> dict[TP, int]:
    """Read the partitions this worker owns of ``offsets`` again from there (never forward: the lower of the
    offset asked and the next one to read), and commit that; returns where each now starts."""
    consumer = cast(Any, started_consumer(app))
    if consumer is None:
        return {}
    owned = consumer.assignment()
    starts: dict[TP, int] = {}
    for tp, offset in offsets.items():
        if tp not in owned:
            continue
        read, committed = consumer._read_offset[tp], consumer._committed_offset[tp]
        current = read + 1 if read is not None else committed
        starts[tp] = offset if current is None else min(offset, current)
    for tp, start in starts.items():
        await consumer.seek(tp, start)
        consumer._acked[tp].clear()
        consumer._acked_index[tp].clear()
        consumer._gap[tp].clear()
        consumer._jumped_to.pop(tp, None)  # a jump seen before the rewind says nothing about the log (8a.)
        consumer._holes.pop(tp, None)
        consumer._committed_offset[tp] = start
    if starts:
        await consumer._commit(starts)
        log.info("replay: rewound %s", ", ".join(f"{tp.topic}[{tp.partition}]@{o}" for tp, o in starts.items()))
    return starts


# ---- 7. the event a table write belongs to, inside a batch ---------------------------------------------


@contextmanager
def handling(event: EventT[Any]) -> Iterator[None]:
    """Make ``event`` Faust's current event while it is handled (its table writes go to its partition)."""
    token = faust_streams._current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        faust_streams._current_event.reset(token)


# ---- 8e. a record a rebalance took while an agent retried it -------------------------------------------


def superseded(event: EventT[Any]) -> bool:
    """Whether a rebalance took ``event``'s record from this worker's agents since it was fetched: the test
    Faust's streams make before handing a record on (the flow stopped, or a new consumer generation)."""
    app, generation = event.app, event.message.generation_id
    return not app.flow_control.is_active() or (generation is not None and generation != app.consumer_generation_id)


def give_back(event: EventT[Any]) -> None:
    """Leave ``event``'s record undone (8e.): its ack is not counted, so the commit stays below it and the
    partition's next owner reads it again."""
    consumer = started_consumer(cast(faust.App, event.app))
    if isinstance(consumer, FetchedHighwatersConsumer):
        consumer.cleared.add(event.message)
