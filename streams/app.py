"""The Faust app: one per worker process, configured from p2c's settings.

Choices, each measured against the embedded broker (Tansu) and valid on Apache Kafka:

* Values and keys are raw bytes on every topic: p2c.serde does Avro in the Confluent wire format, so a
  dead letter keeps the original bytes and no Faust codec ever touches a record.
* At-least-once (Faust's default guarantee): Faust flushes the producer before it commits offsets, so an
  offset is committed only once every write caused by the events before it was acknowledged.
  ``exactly_once`` is not used: the embedded broker's transactions are unreliable.
* Tables live in memory (``memory://``) and are rebuilt from their changelog topics when partitions are
  assigned; a table is co-partitioned with the change topic it is keyed like.
* Tables are in memory and rebuilt from their changelogs up to each partition's end, which
  :mod:`streams.recovery` reads from a fetch: the embedded broker's ListOffsets reports the end too low when
  a partition's last batch holds several records, and recovery stopped short (known keys lost, their deletes
  dead-lettered). With the right end, Faust's recovery consistency check (a table's offset never past the
  changelog's end) is on again.
* The consumer refreshes its metadata every 30 s, not 5 minutes: a group leader assigns only the partitions of
  topics its metadata lists, so a topic or partition added after the join (or an internal topic a lagging
  broker did not list yet) waited up to 5 minutes for its first assignment. The worker creates its internal
  topics before it starts (:func:`streams.worker.internal_topics`); the refresh bounds what is left of the race.
* Group membership follows ``KafkaSettings.session_timeout_ms``: Tansu holds a join for half the session
  timeout, and Faust's 60 s default made the first join take ~30 s.
"""

from __future__ import annotations

import logging
from typing import Any, NamedTuple

import faust

from p2c.settings import KafkaSettings
from p2c.streams import faust_adapter
from p2c.streams.settings import StreamsSettings

log = logging.getLogger("p2c.streams")

#: How often the consumer refreshes its metadata, so that new topics and partitions are assigned soon.
METADATA_MAX_AGE_MS = 30_000
#: the most a produce batch of one partition holds (aiokafka's ``max_batch_size``)
PRODUCER_BATCH_BYTES = 256 * 1024


def broker_urls(bootstrap_servers: str) -> list[str]:
    """``host1:9092,host2:9092`` -> ``["kafka://host1:9092", "kafka://host2:9092"]``."""
    hosts = [h.strip() for h in bootstrap_servers.split(",") if h.strip()]
    return [h if "://" in h else f"kafka://{h}" for h in hosts]


def _credentials(kafka: KafkaSettings) -> Any:
    if not kafka.sasl_mechanism:
        return None
    password = kafka.sasl_password.get_secret_value() if kafka.sasl_password else None
    if kafka.security_protocol.upper() == "SASL_SSL":
        import ssl

        return faust.SASLCredentials(
            username=kafka.sasl_username,
            password=password,
            mechanism=kafka.sasl_mechanism,
            ssl_context=ssl.create_default_context(),
        )
    return faust.SASLCredentials(username=kafka.sasl_username, password=password, mechanism=kafka.sasl_mechanism)


class GroupTimings(NamedTuple):
    """Consumer-group timeouts in seconds."""

    session: float
    heartbeat: float
    rebalance: float


def group_timings(session_timeout_ms: int) -> GroupTimings:
    """Session, heartbeat and rebalance timeouts for a broker session timeout in ms."""
    session = session_timeout_ms / 1000
    return GroupTimings(session, max(0.1, session / 10), max(session, 5.0))


def create_app(kafka: KafkaSettings, settings: StreamsSettings, brokers: int = 1) -> faust.App:
    """A Faust app with no agents yet: :func:`streams.agents.register` adds them.

    The topics Faust creates (changelogs, join topics) get p2c's replication factor for a cluster of
    ``brokers``, and the cluster's default ``min.insync.replicas``; changelogs are compacted (Faust's default).
    """
    timings = group_timings(kafka.session_timeout_ms)
    settings.data_dir.mkdir(parents=True, exist_ok=True)  # Faust makes only the app's own folder in it
    app = faust.App(
        settings.app_id,
        broker=broker_urls(kafka.bootstrap_servers),
        broker_credentials=_credentials(kafka),
        store="memory://",
        TableManager=faust_adapter.PromptTableManager,
        key_serializer="raw",
        value_serializer="raw",
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=settings.commit_interval_s,
        producer_acks={"all": -1, "1": 1, "0": 0}[kafka.producer_acks],
        topic_replication_factor=kafka.replication(brokers)[0],
        # Without linger a produce request carried ~2 records (profiled); 5 ms batches them: +14% events/s;
        # 20 ms: another +13% (bench_streams, 10k events, alternating runs: 1,056 -> 1,199 events/s).
        producer_linger=0.02,
        # aiokafka fills one batch per partition while the one before is in flight, and a send waits once it is
        # full: at 16 KiB (its default) target and changelog writes waited on the round trips. 256 KiB, the
        # full initial load (bench_initial_load.py --scale 1.0, one after the other, 2026-12-02): embedded
        # broker 485 -> 605 rows/s, Apache Kafka 388 -> 445.
        producer_max_batch_size=PRODUCER_BATCH_BYTES,
        autodiscover=False,
        datadir=str(settings.data_dir / settings.app_id),  # Faust's default is the working directory
        web_enabled=settings.web_port is not None,
        web_port=settings.web_port or 6066,
        web_host=settings.web_host,
        consumer_metadata_max_age_ms=METADATA_MAX_AGE_MS,
        # no leader election (p2c has no on_leader timer): its topic was created just before the join as well,
        # missing from the leader's metadata, and its arrival 30 s later meant a rebalance in mid-load
        topic_disable_leader=True,
        broker_session_timeout=timings.session,
        broker_heartbeat_interval=timings.heartbeat,
        broker_rebalance_timeout=timings.rebalance,
    )
    faust_adapter.install_transport(app, kafka)
    return app
