"""Read a keyed topic to its end and keep the last value per key.

That is what log compaction would leave; the embedded broker does not compact, so the whole log is read.
Uses ``assign()`` rather than a consumer group: no group join, no committed offsets, nothing to clean up.
The end is found by partition EOF, not by ListOffsets, which the embedded broker gets wrong (see
p2c/offsets.py).
"""

from __future__ import annotations

import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from p2c.errors import RetriableError
from p2c.offsets import partitions
from p2c.settings import KafkaSettings


def read_latest(kafka: KafkaSettings, topic: str, timeout: float = 10.0) -> dict[bytes, bytes | None]:
    """``{key: last value}`` over every partition of ``topic``; a missing topic reads as empty."""
    consumer = Consumer(
        kafka.librdkafka() | {"group.id": "p2c-reader", "enable.auto.commit": False, "enable.partition.eof": True}
    )
    try:
        pending = set(partitions(consumer, topic, timeout))
        if not pending:
            return {}
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in pending])
        latest: dict[bytes, bytes | None] = {}
        last_error: KafkaError | None = None
        deadline = time.monotonic() + timeout
        while pending:
            if time.monotonic() > deadline:
                why = f" (last error: {last_error})" if last_error else ""
                raise RetriableError(f"reading {topic} to its end took longer than {timeout:.0f} s{why}")
            for msg in consumer.consume(1000, timeout=0.2):
                error = msg.error()
                if error is None:
                    latest[msg.key() or b""] = msg.value()
                elif error.code() == KafkaError._PARTITION_EOF:
                    pending.discard(msg.partition())
                elif error.fatal():
                    raise KafkaException(error)
                else:
                    # librdkafka reports a dropped connection or a timed-out request as a consumer error and
                    # retries by itself; raising here made `p2c status` fail now and then under load.
                    last_error = error
        return latest
    finally:
        consumer.close()
