"""Runs a Sink: consume target topics in a consumer group, batch, write, dead-letter, then commit.

    consume up to ``batch_size`` records or ``batch_ms``   (manual commits, session timeout from settings)
    decode (a record that cannot be decoded is dead-lettered)
    sink.write(batch)   RetriableError -> wait (retry_after or backoff) and retry the SAME batch for the policy's
                        budget; then write it in halves, down to the record that keeps failing (dead letter)
                        HeldBack -> park the held records; they go again with the next batch, and each
                        partition is committed only up to its first parked record
    dead-letter what the target rejected for good, wait for the broker's ack
    commit offsets (synchronously), only now

Rebalances: offsets are committed right after each write, so on revocation only records not yet written are
left; the runner drops them from its buffer and the partition's next owner starts at the committed offset.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from p2c.connectors.base.sink import HeldBack, Sink, SinkRecord, WriteResult
from p2c.connectors.core.metrics import DEAD_LETTERED, IN, METRICS, RETRIED, SKIPPED, WRITTEN, Counters, Reporter
from p2c.deadletter import DeadLetter
from p2c.errors import RecordError, RetriableError
from p2c.failures import DEAD_LETTER, ErrorPolicy
from p2c.metrics import HELD, LAST_WRITTEN_MS, READ, REQUEUED, skipped_by

if TYPE_CHECKING:
    from p2c.replays import Listener
    from p2c.serde import Codecs

#: how long to wait for more records once a batch has some
IMMEDIATE_S = 0.005
#: a batch is retried for two minutes before it is split: below the consumer's max.poll.interval.ms (300 s),
#: above a target's usual hiccups (a FinOps batch job, a 429 storm's Retry-After)
SINK_POLICY = ErrorPolicy(retriable_budget=120.0)

log = logging.getLogger("p2c.connectors.sink")


class SinkRunner:
    def __init__(
        self,
        sink: Sink,
        consumer: Consumer,
        producer: Producer,
        codecs: Codecs,
        *,
        batch_size: int = 1000,
        batch_ms: int = 200,
        metrics: Counters = METRICS,
        report_interval: float = 30.0,
        max_backoff: float = 30.0,
        policy: ErrorPolicy = SINK_POLICY,
        split_budget: float = 5.0,
        replays: Listener | None = None,
        publish_counts: Callable[[], None] | None = None,
    ) -> None:
        """``publish_counts`` (``MetricsReporter.publish_before_commit``) is called before each commit: it raises
        ``RuntimeError`` when the counts could not be published, and then nothing is committed (p2c.metrics)."""
        self.sink = sink
        self.consumer = consumer
        self.producer = producer
        self.codecs = codecs
        self.batch_size = batch_size
        self.batch_ms = batch_ms
        self.metrics = metrics
        self.component = f"sink.{sink.name}"
        self.reporter = Reporter(self.component, metrics, report_interval)
        self.max_backoff = max_backoff
        self.policy, self.split_budget = policy, split_budget
        self._buffer: list[Message] = []
        #: records waiting for a dependency (HeldBack), offered again with the next batch
        self._parked: list[SinkRecord] = []
        self._held_flows: set[str] = set()
        self._retry_at = 0.0
        #: per partition: the last offset whose outcome is final, and the offset committed last
        self._done: dict[tuple[str, int], int] = {}
        self._committed: dict[tuple[str, int], int] = {}
        self._stop = threading.Event()
        self._dlq_failures: list[KafkaError] = []
        self.replays = replays
        self.publish_counts = publish_counts

    # ---- lifecycle -----------------------------------------------------------------------------

    def stop(self) -> None:
        self._stop.set()

    def subscribe(self) -> None:
        self.consumer.subscribe(
            self.sink.topics(), on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_revoke
        )

    def _on_assign(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.info("%s: assigned %s", self.component, _describe(partitions))

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        revoked = {(tp.topic, tp.partition) for tp in partitions}
        before = len(self._buffer)
        self._buffer = [m for m in self._buffer if (m.topic(), m.partition()) not in revoked]
        given_back = [r for r in self._parked if (r.topic, r.partition) in revoked]
        self._parked = [r for r in self._parked if (r.topic, r.partition) not in revoked]
        for record in given_back:  # the partition's next owner reads them again
            self.metrics.incr(self.sink.flow_of(record), REQUEUED)
        self._count_held()
        for tp in revoked:
            self.metrics.past_commit(tp[0], tp[1], 0)
            self._done.pop(tp, None)
            self._committed.pop(tp, None)
        log.info(
            "%s: revoked %s (%d unwritten records left to the next owner)",
            self.component,
            _describe(partitions),
            before - len(self._buffer),
        )

    def run(self) -> None:
        self.subscribe()
        try:
            while not self._stop.is_set():
                self.step()
        finally:
            self.consumer.close()  # leaves the group; everything written is committed already
            self.producer.flush(10)
            if self.replays is not None:
                self.replays.close()

    # ---- one batch -----------------------------------------------------------------------------

    def _fill(self, max_wait: float | None = None) -> None:
        """Wait up to ``batch_ms`` for a first record, then take what else is there right away.

        A batch is written as soon as nothing more is waiting: under load it fills up by itself, and a lone
        change is not held back for the rest of ``batch_ms``.
        """
        deadline = time.monotonic() + min(self.batch_ms / 1000, 3600.0 if max_wait is None else max_wait)
        while len(self._buffer) < self.batch_size and not self._stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0 and self._buffer:
                break
            if self._buffer:
                messages = self.consumer.consume(self.batch_size - len(self._buffer), IMMEDIATE_S)
            else:  # consume() would hold a first record until the batch is full or the time is up
                first = self.consumer.poll(max(0.05, remaining))
                messages = [first] if first is not None else []
            for msg in messages:
                err = msg.error()
                if err is None:
                    self._buffer.append(msg)
                elif err.code() != KafkaError._PARTITION_EOF:
                    log.warning("%s: consume error: %s", self.component, err.str())
            if not messages:
                if not self._buffer:
                    self.reporter.tick()
                return

    def step(self) -> int:
        """Fill a batch and process it (with the parked records, when they are due); returns its size."""
        if self.replays is not None:
            for request in self.replays.pending():
                rewound = self.rewind(request.offsets)
                if rewound:
                    self.replays.rewound(request, rewound)
        wait = max(0.0, self._retry_at - time.monotonic()) if self._parked else None
        self._fill(wait)
        due = bool(self._parked) and time.monotonic() >= self._retry_at
        if not self._buffer and not due:
            return 0
        batch, self._buffer = self._buffer, []
        return self.process(batch)

    def process(self, messages: Sequence[Message]) -> int:
        """Write the new ``messages`` and the parked records; dead-letter, count and commit what is final.

        Records the sink holds back (HeldBack) are parked and offered again with the next batch, after
        ``retry_after``; meanwhile newer records keep flowing, and each partition is committed up to its
        first parked record only, so a restart re-reads from there (the version guard skips what was written).
        """
        records: list[SinkRecord] = []
        rejected: list[tuple[SinkRecord, RecordError]] = []
        for msg in messages:
            record = _record(msg, {})
            try:
                if msg.value() is None:
                    raise RecordError(
                        f"a tombstone (no value) on {record.topic}, where a write is due: p2c never writes one "
                        "there; find what else produces to the topic",
                        record_key=record.key,
                    )
                value = self._decode(record, msg.value() or b"")
            except RecordError as exc:
                rejected.append((record, exc))
                self.metrics.incr(self.sink.flow_of(record), READ)  # the flow its dead letter goes to
                continue
            records.append(_record(msg, value))
        for record in records:
            self.metrics.incr(self.sink.flow_of(record), READ)
            self.metrics.incr(self.sink.flow_of(record), IN)
        pending, self._parked = self._parked + records, []
        result, retry_after = WriteResult(), None
        if pending:
            try:
                result = self._write_until_done(pending)
            except HeldBack as exc:
                result, self._parked, retry_after = exc.done, list(exc.held), exc.retry_after
        self._retry_at = time.monotonic() + (0.5 if retry_after is None else retry_after)
        rejected.extend(result.rejected)
        now_ms = int(time.time() * 1000)
        for record in result.written:
            self.metrics.incr(self.sink.flow_of(record), WRITTEN)
            self.metrics.gauge(self.sink.flow_of(record), LAST_WRITTEN_MS, now_ms)
        for record in result.skipped:
            self.metrics.incr(self.sink.flow_of(record), SKIPPED)
            self.metrics.incr(self.sink.flow_of(record), skipped_by(result.rule_of(record)))
        for record, error in rejected:
            self._dead_letter(record, error)
        self._await_dead_letters()
        for msg in messages:
            tp = (msg.topic() or "", msg.partition() or 0)
            self._done[tp] = max(self._done.get(tp, -1), msg.offset() or 0)
        self._commit()
        self._count_held()
        if self._parked:
            log.debug("%s: %d records held back", self.component, len(self._parked))
        self.reporter.tick()
        return len(messages)

    def _count_held(self) -> None:
        held: dict[str, int] = dict.fromkeys(self._held_flows, 0)
        for record in self._parked:
            flow = self.sink.flow_of(record)
            held[flow] = held.get(flow, 0) + 1
        for flow, n in held.items():
            self.metrics.gauge(flow, HELD, n)
        self._held_flows = set(held)

    def _decode(self, record: SinkRecord, data: bytes) -> dict[str, object]:
        """The record's value; the registry out of reach is retried (policy), a bad value is a RecordError."""
        started, attempt = time.monotonic(), 0
        while True:
            attempt += 1
            try:
                return self.codecs[record.topic].deserialize(data, key=record.key)
            except RetriableError as exc:
                elapsed = time.monotonic() - started
                verdict = self.policy.decide(exc, attempt, elapsed)
                if verdict == DEAD_LETTER:
                    raise self.policy.reason(exc, attempt, elapsed) from exc
                log.warning("%s: decoding %s: %s; retrying in %.1f s", self.component, record.topic, exc, verdict)
                if self._stop.wait(float(verdict)):
                    raise

    def _write_until_done(self, records: list[SinkRecord], budget: float | None = None) -> WriteResult:
        """Write ``records``, retrying a RetriableError with backoff for ``budget`` seconds (the policy's).

        A batch still failing then is split in halves, each written on its own with the short
        ``split_budget``, down to single records: one the target answers 500 forever is dead-lettered
        ("kept failing") and the rest is written, instead of the whole batch being retried forever.
        """
        budget = self.policy.retriable_budget if budget is None else budget
        started, attempt = time.monotonic(), 0
        while True:
            attempt += 1
            try:
                return self.sink.write(records)
            except HeldBack:
                raise
            except RetriableError as exc:
                elapsed = time.monotonic() - started
                if elapsed >= budget:
                    return self._split(records, exc, attempt, elapsed)
                self.metrics.incr(self.sink.flow_of(records[0]), RETRIED)
                delay = (
                    exc.retry_after
                    if exc.retry_after is not None
                    else random.uniform(0.5, 1.0) * min(self.max_backoff, 0.25 * 2 ** min(attempt, 10))
                )
                delay = min(delay, max(self.max_backoff, 120.0), max(budget - elapsed, 0.05))
                log.warning(
                    "%s: retry %d of a batch of %d in %.2f s: %s", self.component, attempt, len(records), delay, exc
                )
                if self._stop.wait(delay):
                    raise

    def _split(self, records: list[SinkRecord], exc: RetriableError, attempt: int, elapsed: float) -> WriteResult:
        """A batch that kept failing: a single record is rejected; a larger one is written in halves."""
        if len(records) == 1:
            return WriteResult(rejected=[(records[0], self.policy.reason(exc, attempt, elapsed))])
        log.warning(
            "%s: a batch of %d kept failing for %.0f s (%s); writing it in halves",
            self.component,
            len(records),
            elapsed,
            exc,
        )
        done, held = WriteResult(), list[SinkRecord]()
        half = len(records) // 2
        for part in (records[:half], records[half:]):
            try:
                result = self._write_until_done(part, self.split_budget)
            except HeldBack as back:
                result, held = back.done, [*held, *back.held]
            done.merge(result)
        if held:
            raise HeldBack(f"{len(held)} records wait for a dependency", None, done, held)
        return done

    def _dead_letter(self, record: SinkRecord, error: RecordError) -> None:
        letter = DeadLetter.from_error(
            error,
            flow=self.sink.flow_of(record),
            stage="sink",
            key=record.raw_key,
            value=record.raw_value,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
        )
        log.warning(
            "%s: dead-lettered %s[%d]@%d key %s to %s: %s",
            self.component,
            record.topic,
            record.partition,
            record.offset,
            record.key,
            letter.topic,
            error,
        )

        def delivered(err: KafkaError | None, _msg: Message) -> None:
            if err is not None:
                self._dlq_failures.append(err)

        self.producer.produce(
            letter.topic, key=letter.key, value=letter.value, headers=list(letter.headers()), on_delivery=delivered
        )
        self.metrics.incr(letter.flow, DEAD_LETTERED)

    def _await_dead_letters(self) -> None:
        if self.producer.flush(30) or self._dlq_failures:
            failures, self._dlq_failures = self._dlq_failures, []
            raise RetriableError(f"dead letters not acknowledged: {failures or 'timeout'}; offsets not committed")

    def rewind(self, offsets: dict[tuple[str, int], int]) -> dict[tuple[str, int], int]:
        """Start the partitions this runner owns of ``offsets`` again there (a replay, ``p2c.replays``); returns
        where each now starts. Never forward: the lower of the offset asked and the first record not final yet.
        What was buffered or parked from there is dropped (it is read again) and the new position committed."""
        owned = {(tp.topic, tp.partition) for tp in self.consumer.assignment()}
        starts: dict[tuple[str, int], int] = {}
        for tp, offset in offsets.items():
            if tp not in owned:
                continue
            unfinished = [m.offset() or 0 for m in self._buffer if (m.topic(), m.partition()) == tp]
            unfinished += [r.offset for r in self._parked if (r.topic, r.partition) == tp]
            if tp in self._done:
                unfinished.append(self._done[tp] + 1)
            starts[tp] = min([offset, *unfinished])
        if not starts:
            return {}
        self._buffer = [m for m in self._buffer if (m.topic(), m.partition()) not in starts]
        self._parked = [r for r in self._parked if (r.topic, r.partition) not in starts]
        positions = [TopicPartition(t, p, o) for (t, p), o in starts.items()]
        for tp_ in positions:
            with contextlib.suppress(KafkaException):  # not fetching it yet: it starts from the commit below
                self.consumer.seek(tp_)
        self.consumer.commit(offsets=positions, asynchronous=False)
        for (t, p), o in starts.items():
            self._done[(t, p)] = o - 1
            self._committed[(t, p)] = o
        log.info("%s: replay: rewound %s", self.component, ", ".join(f"{t}[{p}]@{o}" for (t, p), o in starts.items()))
        return starts

    def _commit(self) -> None:
        """Commit each partition up to its first parked record, or past its last final one."""
        first: dict[tuple[str, int], int] = {}
        for r in self._parked:
            tp = (r.topic, r.partition)
            first[tp] = min(first.get(tp, r.offset), r.offset)
        offsets = []
        for tp, last in self._done.items():
            target = first.get(tp, last + 1)
            self.metrics.past_commit(tp[0], tp[1], last + 1 - target)
            if target > self._committed.get(tp, -1):
                offsets.append(TopicPartition(tp[0], tp[1], target))
        if not offsets:
            return
        try:
            if self.publish_counts is not None:
                self.publish_counts()
        except RuntimeError as exc:
            log.warning("%s: %s; commit put off (its records are read again after a crash)", self.component, exc)
            return
        try:
            self.consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            # Lost the partitions meanwhile: the next owner rewrites from its committed offset; the
            # version guard makes that a no-op in the target.
            log.warning(
                "%s: commit of %s failed (%s); the next owner re-applies them", self.component, _describe(offsets), exc
            )
            return
        for tp_ in offsets:
            self._committed[(tp_.topic, tp_.partition)] = tp_.offset


def _record(msg: Message, value: dict[str, object]) -> SinkRecord:
    return SinkRecord(
        topic=msg.topic() or "",
        partition=msg.partition() or 0,
        offset=msg.offset() or 0,
        key=None if msg.key() is None else (msg.key() or b"").decode("utf-8", "replace"),
        value=dict(value),
        raw_key=msg.key(),
        raw_value=msg.value(),
    )


def _describe(partitions: Sequence[TopicPartition]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]" for tp in partitions) or "nothing"
