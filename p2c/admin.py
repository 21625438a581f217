"""Topic administration against any Kafka cluster: create what p2c needs, idempotently.

Topics are created with the durability of :class:`p2c.settings.KafkaSettings` (replication factor and
``min.insync.replicas``, capped at the broker count); the topics that hold state, where only the last value
per key matters (source positions, metrics, dead-letter states, the registry's log), are compacted, their
segments rolled hourly (``state_topic_segment_ms``) so that compaction can clean them. Dead-letter topics keep
their letters ``dead_letter_retention_ms`` (30 days). Change and target topics are streams of events and keep
the cluster's delete retention.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from p2c.errors import ConfigurationError, RetriableError
from p2c.flows import ALL_TOPICS
from p2c.settings import KafkaSettings
from p2c.topics import DLQ_STATE, METRICS, POSITIONS, SCHEMAS_TOPIC, Topic, dead_letter

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


STATE_TOPICS = frozenset({POSITIONS.name, METRICS.name, DLQ_STATE.name, SCHEMAS_TOPIC})
DEAD_LETTER_PREFIX = dead_letter("").name


def new_topic(
    kafka: KafkaSettings, name: str, partitions: int, brokers: int, state: bool | None = None, changelog: bool = False
) -> NewTopic:
    """The NewTopic for ``name`` with p2c's durability on a cluster of ``brokers``.

    ``state``: compact it (when ``compact_state_topics``); None decides by name (:data:`STATE_TOPICS`).
    ``changelog``: a Faust table's changelog, compacted as Faust creates it.
    """
    factor, min_insync = kafka.replication(brokers)
    config = {"min.insync.replicas": str(min_insync)}
    if changelog:
        config["cleanup.policy"] = "compact"
    elif kafka.compact_state_topics and (name in STATE_TOPICS if state is None else state):
        config |= {"cleanup.policy": "compact", "segment.ms": str(kafka.state_topic_segment_ms)}
    elif name.startswith(DEAD_LETTER_PREFIX):
        config["retention.ms"] = str(kafka.dead_letter_retention_ms)
    return NewTopic(name, num_partitions=partitions, replication_factor=factor, config=config)


def warn_if_capped(kafka: KafkaSettings, brokers: int) -> None:
    factor, _ = kafka.replication(brokers)
    if factor < kafka.topic_replication_factor:
        log.warning(
            "the cluster has %d broker(s): new topics get replication factor %d, not %d "
            "(P2C_TOPIC_REPLICATION_FACTOR); fine for development, not for production",
            brokers,
            factor,
            kafka.topic_replication_factor,
        )


def ensure_topics(kafka: KafkaSettings, topics: Iterable[Topic] = ALL_TOPICS) -> list[str]:
    """Create the topics that do not exist yet; return the names created. Existing ones are left alone."""
    admin = admin_client(kafka)
    metadata = admin.list_topics(timeout=10)
    missing = [t for t in topics if t.name not in metadata.topics]
    if not missing:
        return []
    brokers = len(metadata.brokers)
    warn_if_capped(kafka, brokers)
    futures = admin.create_topics(
        [new_topic(kafka, t.name, t.partitions, brokers, changelog=t.changelog) for t in missing], operation_timeout=10
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
    wait_until_listed(admin, {t.name: t.partitions for t in missing if t.name in created})
    return created


def wait_until_listed(admin: AdminClient, partitions: dict[str, int], timeout: float = 10.0) -> None:
    """Return once the cluster's metadata lists every topic of ``partitions`` with all its partitions.

    A created topic reaches the brokers' metadata a moment after CreateTopics answers (KRaft applies it
    asynchronously). A consumer that subscribes in that moment does not see it, and a group leader assigns
    none of its partitions until its next metadata refresh: 5 minutes with aiokafka's default.
    """
    deadline = time.monotonic() + timeout
    pending = set(partitions)
    while pending:
        listed = admin.list_topics(timeout=timeout).topics
        pending = {n for n in pending if n not in listed or len(listed[n].partitions) < partitions[n]}
        if not pending:
            return
        if time.monotonic() > deadline:
            raise RetriableError(
                f"topics {sorted(pending)} were created but are not in the cluster's metadata after {timeout:.0f} s; "
                "check the brokers' logs, then start again"
            )
        time.sleep(0.05)
