"""Source positions on the ``p2c.positions`` topic (one partition; key = connector name, value = JSON).

Reading uses ``assign()`` from the beginning to the end of the partition, not a consumer group (a group
join on the embedded broker takes half the session timeout), and keeps the last value per key. Writing is
a produce + flush whose delivery report is checked: a position counts only once the broker has it.

Value format::

    {"connector": "crm", "saved_ms": 1732412345678, "position": {...source-specific...}}
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from connectors.base.source import Position
from p2c.errors import RetriableError
from p2c.settings import KafkaSettings
from p2c.topics import POSITIONS

log = logging.getLogger("p2c.connectors.positions")


def decode_value(raw: bytes | None) -> Position | None:
    if raw is None:
        return None  # a tombstone: position reset
    doc = json.loads(raw)
    position = doc.get("position") if isinstance(doc, dict) else None
    return position if isinstance(position, dict) else None


def encode_value(name: str, position: Position) -> bytes:
    doc = {"connector": name, "saved_ms": int(time.time() * 1000), "position": position}
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()


class KafkaPositionStore:
    def __init__(self, kafka: KafkaSettings, topic: str = POSITIONS.name, timeout: float = 15.0) -> None:
        self.kafka = kafka
        self.topic = topic
        self.timeout = timeout

    def load_all(self) -> dict[str, Position]:
        """Last position per connector name (tombstones remove a name)."""
        consumer = Consumer(
            self.kafka.librdkafka()
            | {"group.id": "p2c-positions-reader", "enable.auto.commit": False, "enable.partition.eof": True}
        )
        positions: dict[str, Position] = {}
        try:
            tp = TopicPartition(self.topic, 0)
            try:
                low, high = consumer.get_watermark_offsets(tp, timeout=self.timeout)
            except KafkaException as exc:
                raise RetriableError(f"cannot read the offsets of {self.topic}: {exc}") from exc
            if high <= low:
                return positions
            consumer.assign([TopicPartition(self.topic, 0, OFFSET_BEGINNING)])
            deadline = time.monotonic() + self.timeout
            while time.monotonic() < deadline:
                msg: Message | None = consumer.poll(0.5)
                if msg is None:
                    continue
                err = msg.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        break
                    raise RetriableError(f"reading {self.topic}: {err.str()}")
                key = (msg.key() or b"").decode()
                value = decode_value(msg.value())
                if value is None:
                    positions.pop(key, None)
                else:
                    positions[key] = value
                if (msg.offset() or 0) >= high - 1:
                    break
            else:
                raise RetriableError(f"reading {self.topic} to its end took longer than {self.timeout:.0f} s")
        finally:
            consumer.close()
        return positions

    def load(self, name: str) -> Position | None:
        return self.load_all().get(name)

    def save(self, producer: Producer, name: str, position: Position) -> None:
        """Write and wait for the broker's acknowledgement; raises RetriableError when it did not ack."""
        errors: list[Any] = []

        def delivered(err: KafkaError | None, _msg: Message) -> None:
            if err is not None:
                errors.append(err)

        producer.produce(self.topic, key=name.encode(), value=encode_value(name, position), on_delivery=delivered)
        remaining = producer.flush(self.timeout)
        if remaining or errors:
            raise RetriableError(f"position of {name} not acknowledged by the broker: {errors or 'timeout'}")
