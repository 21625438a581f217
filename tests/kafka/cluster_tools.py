"""Cluster operations the Kafka tier needs: start from empty topics, find and move partition leaders."""

from __future__ import annotations

import time

from confluent_kafka import ElectionType, TopicPartition
from confluent_kafka.admin import AdminClient

from p2c.settings import KafkaSettings
from p2c.topics import SCHEMAS_TOPIC


def reset(kafka: KafkaSettings, timeout: float = 60.0) -> None:
    """Delete every topic but Kafka's own and ``_schemas``, and every consumer group: a pipeline starts afresh."""
    admin = AdminClient(kafka.librdkafka())
    groups = [g.group_id for g in admin.list_consumer_groups().result(timeout).valid]
    if groups:
        for future in admin.delete_consumer_groups(groups, request_timeout=timeout).values():
            future.result(timeout)
    doomed = [t for t in admin.list_topics(timeout=timeout).topics if not t.startswith("__") and t != SCHEMAS_TOPIC]
    if doomed:
        for future in admin.delete_topics(doomed, operation_timeout=timeout).values():
            future.result(timeout)
    deadline = time.monotonic() + timeout
    while set(doomed) & set(admin.list_topics(timeout=timeout).topics):
        assert time.monotonic() < deadline, f"topics still there {timeout:.0f} s after their deletion"
        time.sleep(0.2)


def leader(kafka: KafkaSettings, topic: str, partition: int) -> int:
    admin = AdminClient(kafka.librdkafka())
    return int(admin.list_topics(topic, timeout=10).topics[topic].partitions[partition].leader)


def elect_preferred_leaders(kafka: KafkaSettings, partitions: list[tuple[str, int]], timeout: float = 30.0) -> None:
    """Move leadership back to each partition's preferred replica (the first of its replica list)."""
    admin = AdminClient(kafka.librdkafka())
    tps = [TopicPartition(t, p) for t, p in partitions]
    # No request_timeout: confluent-kafka 2.16.0's C binding refuses any keyword here (SystemError "more
    # argument specifiers than keyword list entries"); the future's own timeout bounds the wait.
    admin.elect_leaders(ElectionType.PREFERRED, tps).result(timeout)
