"""End offsets that are right on the embedded broker too.

Tansu answers ListOffsets(latest) with the base offset of a partition's last record batch plus one, so a
batch of many records makes the high watermark look too low (measured: 12 records in one batch, "end" 1).
The high watermark in a Fetch response is right. So this module fetches: it assigns each partition at
the (possibly low) reported end, polls once, and reads the watermark that fetch brought back. On a real
Kafka cluster the same code gives the same answer as ListOffsets.
"""

from __future__ import annotations

import time

from confluent_kafka import OFFSET_END, Consumer, KafkaError, TopicPartition

from p2c.settings import KafkaSettings


def partitions(consumer: Consumer, topic: str, timeout: float = 10.0) -> list[int]:
    """Partition ids of ``topic``; empty when it does not exist."""
    metadata = consumer.list_topics(topic, timeout=timeout).topics.get(topic)
    if metadata is None or metadata.error is not None:
        return []
    return sorted(metadata.partitions)


def end_offsets(kafka: KafkaSettings, topics: list[str], timeout: float = 10.0) -> dict[tuple[str, int], int]:
    """``{(topic, partition): end offset}`` for every partition of ``topics`` (missing topics are skipped)."""
    consumer = Consumer(
        kafka.librdkafka() | {"group.id": "p2c-offsets", "enable.auto.commit": False, "enable.partition.eof": True}
    )
    try:
        tps = [TopicPartition(t, p, OFFSET_END) for t in topics for p in partitions(consumer, t, timeout)]
        if not tps:
            return {}
        consumer.assign(tps)
        pending = {(tp.topic, tp.partition) for tp in tps}
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is None:
                continue
            error = msg.error()
            if error is not None and error.code() != KafkaError._PARTITION_EOF:
                continue
            pending.discard((msg.topic(), msg.partition()))
        result = {}
        for tp in tps:
            _low, high = consumer.get_watermark_offsets(tp, cached=True)
            if high < 0:  # no fetch answered in time: fall back to what the broker reports
                _low, high = consumer.get_watermark_offsets(tp, timeout=timeout)
            result[(tp.topic, tp.partition)] = high
        return result
    finally:
        consumer.close()


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
