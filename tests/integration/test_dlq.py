"""`p2c dlq list|retry` against the real broker: a dead letter goes back to its origin topic once."""

from __future__ import annotations

import uuid

from confluent_kafka import Consumer, Producer, TopicPartition

from p2c.admin import ensure_topics
from p2c.deadletter import DeadLetter
from p2c.dlq import RETRY_OF, retry
from p2c.errors import RecordError
from p2c.settings import KafkaSettings
from p2c.topics import Topic, dead_letter
from tests.support.cli import dead_letters


def test_dead_letters_are_listed_with_their_reason_and_retried_once(kafka_bootstrap: str) -> None:
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    origin = Topic(f"test-origin-{uuid.uuid4().hex[:6]}", partitions=1)
    ensure_topics(kafka, [origin, dead_letter("products")])
    producer = Producer(kafka.producer())
    key = f"P-{uuid.uuid4().hex[:6]}".encode()
    error = RecordError("no price list in currency NOK", record_key=key.decode(), field="pricelevelid_name")
    letter = DeadLetter.from_error(
        error, flow="products", stage="sink", key=key, value=b"\x00original", topic=origin.name, partition=0, offset=7
    )
    producer.produce(letter.topic, key=letter.key, value=letter.value, headers=letter.headers())
    assert producer.flush(10) == 0

    mine = [x for x in dead_letters(kafka_bootstrap, "products") if x["key"] == key.decode()]
    assert len(mine) == 1
    assert mine[0]["field"] == "pricelevelid_name" and "no price list in currency NOK" in mine[0]["reason"]
    assert mine[0]["retried"] is False

    assert retry(kafka, "products") >= 1
    assert retry(kafka, "products") == 0  # each dead letter goes back once

    consumer = Consumer(kafka.librdkafka() | {"group.id": "test-dlq", "enable.auto.commit": False})
    consumer.assign([TopicPartition(origin.name, 0, 0)])
    msg = consumer.poll(10)
    consumer.close()
    assert msg is not None and msg.error() is None
    assert (msg.key(), msg.value()) == (key, b"\x00original")
    assert dict(msg.headers() or [])[RETRY_OF].decode().startswith("p2c.dlq.products/")
