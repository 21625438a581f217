"""Read topics from their beginning to their end, bounded in time, with progress: what a record's trace reads.

The topics are read as they are (no consumer group, nothing committed). A scan that runs out of time stops
and says so (``complete`` False) rather than keep a person waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message, TopicPartition

from p2c.offsets import partitions
from p2c.settings import KafkaSettings

Progress = Callable[[str, int], None]  # (topic, records read so far)


@dataclass
class Scan:
    """How far a trace read: records per topic, and whether every topic was read to its end."""

    deadline: float
    read: dict[str, int] = field(default_factory=dict)
    complete: bool = True

    @classmethod
    def within(cls, seconds: float) -> Scan:
        return cls(time.monotonic() + seconds)


def messages(kafka: KafkaSettings, topic: str, scan: Scan, progress: Progress | None = None) -> Iterator[Message]:
    """Every record of ``topic`` from its beginning to its end as of now; a missing topic has none."""
    consumer = Consumer(
        kafka.librdkafka() | {"group.id": "p2c-trace", "enable.auto.commit": False, "enable.partition.eof": True}
    )
    try:
        pending = set(partitions(consumer, topic, 10.0))
        if not pending:
            return
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in pending])
        count = 0
        while pending:
            if time.monotonic() > scan.deadline:
                scan.complete = False
                return
            for msg in consumer.consume(1000, timeout=0.2):
                error = msg.error()
                if error is None:
                    count += 1
                    yield msg
                elif error.code() == KafkaError._PARTITION_EOF:
                    pending.discard(msg.partition())
                elif error.fatal():
                    raise KafkaException(error)
            scan.read[topic] = count
            if progress is not None:
                progress(topic, count)
    finally:
        consumer.close()
