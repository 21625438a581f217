"""End offsets that are right on the embedded broker too.

Tansu answers ListOffsets(latest) with the base offset of a partition's last record batch plus one, so a
batch of many records makes the high watermark look too low (measured: 12 records in one batch, "end" 1).
The high watermark in a Fetch response is right. So this module fetches: it assigns each partition at
the (possibly low) reported end, polls once, and reads the watermark that fetch brought back. On a real
Kafka cluster the same code gives the same answer as ListOffsets. :class:`OffsetsReader` does the same for a
caller that asks again and again, over clients it keeps.
"""

from __future__ import annotations

import time
from typing import Any

from confluent_kafka import OFFSET_END, Consumer, ConsumerGroupTopicPartitions, KafkaError, TopicPartition
from confluent_kafka.admin import AdminClient

from p2c.settings import KafkaSettings


def partitions(consumer: Consumer, topic: str, timeout: float = 10.0) -> list[int]:
    """Partition ids of ``topic``; empty when it does not exist."""
    metadata = consumer.list_topics(topic, timeout=timeout).topics.get(topic)
    if metadata is None or metadata.error is not None:
        return []
    return sorted(metadata.partitions)


#: the fetch wait of a reader that wants the end now: librdkafka's default (500 ms) holds a fetch at a partition's
#: end for half a second (measured: one end offsets lookup 560 -> 70 ms), and the embedded broker holds it at least
#: half the wait even when records arrive meanwhile
PROMPT_FETCH_WAIT_MS = 10


def end_offsets(kafka: KafkaSettings, topics: list[str], timeout: float = 10.0) -> dict[tuple[str, int], int]:
    """``{(topic, partition): end offset}`` for every partition of ``topics`` (missing topics are skipped)."""
    consumer = Consumer(kafka.librdkafka() | _PROMPT)
    try:
        tps = [TopicPartition(t, p, OFFSET_END) for t in topics for p in partitions(consumer, t, timeout)]
        ends, _reported = _fetched_ends(consumer, tps, timeout)
        return ends
    finally:
        consumer.close()


def _fetched_ends(
    consumer: Consumer, tps: list[TopicPartition], timeout: float
) -> tuple[dict[tuple[str, int], int], set[tuple[str, int]]]:
    """Assign ``tps`` at their offsets, poll until a fetch answered for each (a record or partition EOF), and
    read the high watermark those fetches brought back; also the partitions no fetch answered in time, whose end
    is what the broker reports."""
    if not tps:
        return {}, set()
    consumer.assign(tps)
    starts = {(tp.topic, tp.partition): tp.offset for tp in tps}
    pending = set(starts)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        msg = consumer.poll(0.2)
        if msg is not None:
            error = msg.error()
            if error is None or error.code() == KafkaError._PARTITION_EOF:
                pending.discard((msg.topic(), msg.partition()))
            elif error.code() == KafkaError._AUTO_OFFSET_RESET:  # started past the end (Apache Kafka says so)
                starts[(msg.topic() or "", msg.partition() or 0)] = OFFSET_END
                consumer.assign([TopicPartition(t, p, offset) for (t, p), offset in starts.items()])
        pending -= _started_past_the_end(consumer, pending, starts)
    result = {}
    for tp in tps:
        _low, high = consumer.get_watermark_offsets(tp, cached=True)
        if high < 0 or (tp.topic, tp.partition) in pending:  # no fetch answered in time: ask the broker
            _low, high = consumer.get_watermark_offsets(tp, timeout=timeout)
        result[(tp.topic, tp.partition)] = high
    return result, pending


def _started_past_the_end(
    consumer: Consumer, pending: set[tuple[str, int]], starts: dict[tuple[str, int], int]
) -> set[tuple[str, int]]:
    """The partitions whose fetch brought back a high watermark below where the read started: the broker lost
    records since the last read (the embedded broker restarted). The embedded broker answers such a fetch with
    neither a record nor the end, only that watermark."""
    return {
        key
        for key in pending
        if starts[key] >= 0 and 0 <= consumer.get_watermark_offsets(TopicPartition(*key), cached=True)[1] < starts[key]
    }


def committed_offsets(
    kafka: KafkaSettings, group: str, tps: list[tuple[str, int]], timeout: float = 10.0
) -> dict[tuple[str, int], int]:
    """Committed offsets of ``group`` (no group join); -1 where nothing was committed."""
    if not tps:
        return {}
    consumer = Consumer(kafka.librdkafka() | {"group.id": group, "enable.auto.commit": False})
    try:
        committed = consumer.committed([TopicPartition(t, p) for t, p in tps], timeout=timeout)
        return {(tp.topic, tp.partition): tp.offset for tp in committed}
    finally:
        consumer.close()


class OffsetsReader:
    """End offsets and committed offsets for a caller that asks again and again, over the same two clients.

    :func:`end_offsets` and :func:`committed_offsets` make a client per call, right for one answer. A status read
    made ten, each with its connections, Metadata, FindCoordinator and a ListOffsets per partition: measured on an
    idle ``p2c up``, half the broker's requests (~17 a second with the status read every 10 s; it is every 2 s on
    a terminal). This reader keeps one consumer for the ends and one admin client for the groups' commits. The ends
    are read by fetching, as :func:`end_offsets` does, but each read starts a partition where the one before found
    its end: no ListOffsets, and a fetch capped at one record batch of what was added since. Not thread-safe.
    """

    def __init__(self, kafka: KafkaSettings, timeout: float = 10.0) -> None:
        self.kafka, self.timeout = kafka, timeout
        self._consumer: Consumer | None = None
        self._admin: AdminClient | None = None
        self._last_ends: dict[tuple[str, int], int] = {}

    def ends(self, topics: list[str]) -> dict[tuple[str, int], int]:
        """``{(topic, partition): end offset}`` for every partition of ``topics`` (missing topics are skipped)."""
        if self._consumer is None:
            self._consumer = Consumer(self.kafka.librdkafka() | _PROMPT_SMALL_FETCHES)
        listed = self._consumer.list_topics(timeout=self.timeout).topics
        tps = [
            TopicPartition(topic, p, self._last_ends.get((topic, p), OFFSET_END))
            for topic in topics
            if (found := listed.get(topic)) is not None and found.error is None
            for p in sorted(found.partitions)
        ]
        try:
            ends, reported = _fetched_ends(self._consumer, tps, self.timeout)
        finally:
            self._consumer.unassign()
        # where the next read starts: a fetched end (a reported one may be the embedded broker's low answer, or
        # above the watermark this consumer last saw, which would then look like a start past the end)
        self._last_ends.update({key: end for key, end in ends.items() if key not in reported})
        for key in reported:
            self._last_ends.pop(key, None)
        return ends

    def committed(self, group: str, tps: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
        """Committed offsets of ``group``; -1001 where nothing was committed (as :func:`committed_offsets`)."""
        if not tps:
            return {}
        if self._admin is None:
            self._admin = AdminClient(self.kafka.librdkafka())
        asked = ConsumerGroupTopicPartitions(group, [TopicPartition(t, p) for t, p in tps])
        futures = self._admin.list_consumer_group_offsets([asked], request_timeout=self.timeout)
        answer = futures[group].result(timeout=self.timeout)
        return {(tp.topic, tp.partition): tp.offset for tp in answer.topic_partitions}

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None
        self._admin = None  # an admin client has no close: its threads stop when it is collected


#: a consumer that reads ends: by assignment, at partition EOF, without waiting at a partition's end
_PROMPT: dict[str, Any] = {
    "group.id": "p2c-offsets",
    "enable.auto.commit": False,
    "enable.partition.eof": True,
    "fetch.wait.max.ms": PROMPT_FETCH_WAIT_MS,
}
#: the reader's: also at most one record batch a fetch (a fetch brings the high watermark, which is all a read
#: wants; librdkafka wants fetch.max.bytes >= message.max.bytes), and a start past the end reported, not reset
_PROMPT_SMALL_FETCHES = _PROMPT | {
    "auto.offset.reset": "error",
    "message.max.bytes": 1000,
    "fetch.max.bytes": 1000,
    "fetch.message.max.bytes": 1000,
}
