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
from p2c.offsets import PROMPT_FETCH_WAIT_MS, partitions
from p2c.settings import KafkaSettings


def read_latest(kafka: KafkaSettings, topic: str, timeout: float = 10.0) -> dict[bytes, bytes | None]:
    """``{key: last value}`` over every partition of ``topic``; a missing topic reads as empty."""
    consumer = Consumer(_conf(kafka))
    try:
        pending = set(partitions(consumer, topic, timeout))
        if not pending:
            return {}
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in pending])
        latest: dict[bytes, bytes | None] = {}
        _read_to_end(consumer, topic, pending, latest, timeout)
        return latest
    finally:
        consumer.close()


class KeyedLogTail:
    """The last value per key of a keyed topic, brought up to date by each :meth:`read` with only what was added
    since the one before.

    :func:`read_latest` reads the whole log each time: on the embedded broker, which keeps every record, that
    grows with how long p2c has run (``p2c.metrics`` gets a heartbeat from every process every 10 s), and a
    status read every few seconds paid for all of it. Between reads the partitions are paused, so a tail fetches
    nothing while nobody asks. Not thread-safe: one caller at a time.
    """

    def __init__(self, kafka: KafkaSettings, topic: str, timeout: float = 10.0) -> None:
        self.kafka, self.topic, self.timeout = kafka, topic, timeout
        self.latest: dict[bytes, bytes | None] = {}
        self._consumer: Consumer | None = None
        self._assigned: list[TopicPartition] = []

    def read(self) -> dict[bytes, bytes | None]:
        """``{key: last value}`` up to the end of every partition now; a missing topic reads as empty."""
        if self._consumer is None:
            consumer = Consumer(_conf(self.kafka) | {"fetch.wait.max.ms": PROMPT_FETCH_WAIT_MS})
            try:
                found = partitions(consumer, self.topic, self.timeout)
            except BaseException:
                consumer.close()
                raise
            if not found:
                consumer.close()
                return {}
            self._assigned = [TopicPartition(self.topic, p) for p in found]
            consumer.assign([TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in found])
            self._consumer = consumer
        else:
            self._consumer.resume(self._assigned)
        try:
            _read_to_end(self._consumer, self.topic, {tp.partition for tp in self._assigned}, self.latest, self.timeout)
        except BaseException:
            self.close()  # where it stopped is unknown: the next read starts over
            self.latest = {}
            raise
        self._consumer.pause(self._assigned)
        return dict(self.latest)

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None


def _conf(kafka: KafkaSettings) -> dict[str, object]:
    return kafka.librdkafka() | {"group.id": "p2c-reader", "enable.auto.commit": False, "enable.partition.eof": True}


def _read_to_end(
    consumer: Consumer, topic: str, pending: set[int], latest: dict[bytes, bytes | None], timeout: float
) -> None:
    """Consume into ``latest`` until every partition in ``pending`` reported its end (partition EOF)."""
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
