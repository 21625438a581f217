"""Read every dead letter of the flows, fast: one consumer for all ``p2c.dlq.<flow>`` topics.

An empty dead-letter topic is seen from its watermarks without a fetch (the broker's end offset is 0 exactly
when a partition holds nothing, even on the embedded broker whose non-zero ends are too low), so a listing
with nothing dead-lettered costs one metadata request and answers at once. Non-empty partitions are read to
their end by partition EOF (p2c/offsets.py says why not by end offset).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from p2c.deadletter import DeadLetter
from p2c.errors import RetriableError
from p2c.settings import KafkaSettings
from p2c.topics import dead_letter


@dataclass(frozen=True)
class Letter:
    """A dead letter as it sits on its topic: ``id`` is ``<flow>.<partition>.<offset>``."""

    flow: str
    partition: int
    offset: int
    letter: DeadLetter

    @property
    def id(self) -> str:
        return letter_id(self.flow, self.partition, self.offset)

    @property
    def key(self) -> str:
        return (self.letter.key or b"").decode(errors="replace")

    @property
    def origin(self) -> tuple[str, int, int]:
        return self.letter.origin_topic, self.letter.origin_partition, self.letter.origin_offset


def letter_id(flow: str, partition: int, offset: int) -> str:
    return f"{flow}.{partition}.{offset}"


def parse_id(text: str) -> tuple[str, int, int]:
    """``(flow, partition, offset)`` of a letter id; ValueError when it is not one."""
    flow, partition, offset = text.rsplit(".", 2)
    return flow, int(partition), int(offset)


def _headers(raw: object) -> list[tuple[str, bytes]]:
    pairs = raw.items() if isinstance(raw, dict) else (raw or [])
    return [(k, v if isinstance(v, bytes) else (v or "").encode()) for k, v in pairs]  # type: ignore[attr-defined]


def read_letters(kafka: KafkaSettings, flows: Iterable[str], timeout: float = 10.0) -> list[Letter]:
    """Every dead letter of ``flows``, in topic order."""
    by_topic = {dead_letter(flow).name: flow for flow in flows}
    consumer = Consumer(
        kafka.librdkafka() | {"group.id": "p2c-control", "enable.auto.commit": False, "enable.partition.eof": True}
    )
    try:
        metadata = consumer.list_topics(timeout=timeout).topics
        tps = [
            TopicPartition(topic, p, OFFSET_BEGINNING)
            for topic in by_topic
            if topic in metadata and metadata[topic].error is None
            for p in sorted(metadata[topic].partitions)
        ]
        tps = [tp for tp in tps if consumer.get_watermark_offsets(tp, timeout=timeout)[1] > 0]
        if not tps:
            return []
        consumer.assign(tps)
        pending = {(tp.topic, tp.partition) for tp in tps}
        letters = []
        deadline = time.monotonic() + timeout
        while pending:
            if time.monotonic() > deadline:
                raise RetriableError(f"reading the dead letters took longer than {timeout:.0f} s; try again")
            for msg in consumer.consume(1000, timeout=0.2):
                topic, partition, error = msg.topic() or "", msg.partition() or 0, msg.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        pending.discard((topic, partition))
                    continue
                flow = by_topic[topic]
                letter = DeadLetter.from_message(flow, msg.key(), msg.value(), _headers(msg.headers()))
                letters.append(Letter(flow, partition, msg.offset() or 0, letter))
        return sorted(letters, key=lambda x: (x.flow, x.letter.time, x.partition, x.offset))
    finally:
        consumer.close()
