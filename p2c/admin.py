"""Topic administration against any Kafka cluster: create what p2c needs, idempotently."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from p2c.errors import ConfigurationError, RetriableError
from p2c.flows import ALL_TOPICS
from p2c.settings import KafkaSettings
from p2c.topics import Topic

log = logging.getLogger("p2c.admin")


def admin_client(kafka: KafkaSettings, quiet: bool = False) -> AdminClient:
    """An AdminClient; ``quiet`` silences librdkafka's connection errors (for readiness probes)."""
    conf = kafka.librdkafka()
    if quiet:
        conf["log_level"] = 0
    return AdminClient(conf)


def wait_for_cluster(kafka: KafkaSettings, timeout: float = 10.0) -> int:
    """Block until the cluster answers a metadata request; return its broker count."""
    try:
        md = admin_client(kafka, quiet=True).list_topics(timeout=timeout)
    except KafkaException as exc:
        raise RetriableError(
            f"Kafka at {kafka.bootstrap_servers} did not answer within {timeout:.0f} s: {exc}. "
            "Is the broker running (p2c broker) and is --bootstrap-servers right?"
        ) from exc
    return len(md.brokers)


def ensure_topics(kafka: KafkaSettings, topics: Iterable[Topic] = ALL_TOPICS, replication: int = -1) -> list[str]:
    """Create the topics that do not exist yet; return the names created. Existing ones are left alone."""
    admin = admin_client(kafka)
    existing = set(admin.list_topics(timeout=10).topics)
    missing = [t for t in topics if t.name not in existing]
    if not missing:
        return []
    futures = admin.create_topics(
        [NewTopic(t.name, num_partitions=t.partitions, replication_factor=replication) for t in missing],
        operation_timeout=10,
    )
    created = []
    for name, future in futures.items():
        try:
            future.result()
            created.append(name)
            log.info("created topic %s", name)
        except KafkaException as exc:
            err = exc.args[0]
            if err.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                continue  # another process won the race
            raise ConfigurationError(f"could not create topic {name}: {err.str()}") from exc
    return created
