"""Sources produce with confluent-kafka, Faust with aiokafka: the same key must land on the same partition,
or the stream joins (co-partitioned tables) would look in the wrong place."""

from __future__ import annotations

import uuid

from aiokafka.partitioner import DefaultPartitioner
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from p2c.settings import KafkaSettings


def test_confluent_producer_partitions_keys_like_aiokafka(kafka_bootstrap: str) -> None:
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    topic = f"test-partitioner-{uuid.uuid4().hex[:6]}"
    admin = AdminClient(kafka.librdkafka())
    admin.create_topics([NewTopic(topic, 4, 1)])[topic].result()
    landed: dict[bytes, int] = {}

    def delivered(err: object, msg: object) -> None:
        assert err is None
        landed[msg.key()] = msg.partition()  # type: ignore[attr-defined]

    producer = Producer(kafka.producer())
    keys = [str(uuid.UUID(int=i * 7919)).encode() for i in range(200)]
    for key in keys:
        producer.produce(topic, key=key, value=b"x", on_delivery=delivered)
    assert producer.flush(10) == 0
    partitions = [0, 1, 2, 3]
    assert landed == {key: DefaultPartitioner()(key, partitions, partitions) for key in keys}
