"""Source positions on the ``p2c.positions`` topic (one partition; key = connector name, value = JSON).

Reading (``p2c.keyed_log.read_latest``) uses ``assign()`` from the beginning to partition EOF, not a consumer
group (a group join on the embedded broker takes half the session timeout), and keeps the last value per key. Writing is
a produce + flush whose delivery report is checked: a position counts only once the broker has it.

Value format::

    {"connector": "crm", "saved_ms": 1732412345678, "position": {...source-specific...}}
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from p2c.connectors.base.source import Position
from p2c.errors import RetriableError
from p2c.keyed_log import read_latest
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
        """Last position per connector name (a tombstone removes a name)."""
        latest = read_latest(self.kafka, self.topic, timeout=self.timeout)
        positions: dict[str, Position] = {}
        for key, raw in latest.items():
            value = decode_value(raw)
            if value is not None:
                positions[key.decode()] = value
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
