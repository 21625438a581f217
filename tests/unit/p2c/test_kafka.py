"""The pinned Apache Kafka, its node configuration, the durability settings and `p2c up --broker kafka`'s plan."""

from __future__ import annotations

from pathlib import Path

import pytest

from p2c.admin import new_topic
from p2c.errors import ConfigurationError
from p2c.kafka import KAFKA_VERSION
from p2c.kafka.artifacts import ARTIFACTS, ROOTS
from p2c.kafka.config import NodeAddress, server_properties
from p2c.kafka.fetch import is_complete, pom, verify
from p2c.settings import KafkaSettings, load
from p2c.up import Plan


def props(nodes: int) -> dict[str, str]:
    addresses = [NodeAddress(i, 9000 + i, 9100 + i) for i in range(1, nodes + 1)]
    text = server_properties(addresses[0], addresses, Path("/data/node-1"))
    return dict(line.split("=", 1) for line in text.splitlines())


def test_the_pins_hold_the_broker_and_its_log_binding_once_each() -> None:
    names = [a.file_name for a in ARTIFACTS]
    assert len(names) == len(set(names))
    assert f"kafka_2.13-{KAFKA_VERSION}.jar" in names and f"kafka-clients-{KAFKA_VERSION}.jar" in names
    assert all(len(a.sha1) == 40 for a in ARTIFACTS)
    for group, artifact, version in ROOTS:
        assert f"<artifactId>{artifact}</artifactId><version>{version}</version>" in pom()
        assert any(a.group == group and a.artifact == artifact for a in ARTIFACTS)


def test_a_cache_that_does_not_match_the_pins_is_refused(tmp_path: Path) -> None:
    for artifact in ARTIFACTS:
        (tmp_path / artifact.file_name).write_bytes(b"not a jar")
    (tmp_path / "extra-1.0.jar").write_bytes(b"")
    with pytest.raises(ConfigurationError) as caught:
        verify(tmp_path)
    message = str(caught.value)
    assert "unexpected extra-1.0.jar" in message and f"kafka_2.13-{KAFKA_VERSION}.jar has SHA-1" in message
    assert not is_complete(tmp_path)


def test_three_nodes_replicate_like_production_and_one_node_alone() -> None:
    three, one = props(3), props(1)
    assert three["process.roles"] == "broker,controller"
    assert three["controller.quorum.voters"] == "1@127.0.0.1:9101,2@127.0.0.1:9102,3@127.0.0.1:9103"
    assert (three["default.replication.factor"], three["min.insync.replicas"]) == ("3", "2")
    assert (three["offsets.topic.replication.factor"], three["transaction.state.log.min.isr"]) == ("3", "2")
    assert (one["default.replication.factor"], one["min.insync.replicas"]) == ("1", "1")
    assert three["unclean.leader.election.enable"] == "false"
    assert three["log.dirs"] == "/data/node-1"


def test_durability_defaults_and_their_translation() -> None:
    kafka = KafkaSettings()
    assert kafka.producer()["acks"] == "all" and kafka.producer()["enable.idempotence"] is True
    assert kafka.consumer("g")["isolation.level"] == "read_committed"
    assert kafka.replication(5) == (3, 2)
    assert kafka.replication(1) == (1, 1)  # capped: a development broker


def test_idempotence_without_acks_all_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="producer_idempotence needs producer_acks=all"):
        load(KafkaSettings, producer_acks="1")
    assert load(KafkaSettings, producer_acks="1", producer_idempotence=False).producer()["acks"] == "1"


def test_state_topics_are_compacted_and_every_topic_gets_min_insync() -> None:
    kafka = KafkaSettings()
    positions = new_topic(kafka, "p2c.positions", 1, brokers=3)
    changes = new_topic(kafka, "p2c.src.crm.accounts", 4, brokers=3)
    assert positions.config == {"min.insync.replicas": "2", "cleanup.policy": "compact", "segment.ms": "3600000"}
    assert changes.config == {"min.insync.replicas": "2"}
    letters = new_topic(kafka, "p2c.dlq.accounts", 4, brokers=3)
    assert letters.config == {"min.insync.replicas": "2", "retention.ms": str(30 * 24 * 3_600_000)}
    assert (positions.replication_factor, changes.num_partitions) == (3, 4)
    assert new_topic(KafkaSettings(compact_state_topics=False), "p2c.metrics", 1, 3).config == {
        "min.insync.replicas": "2"
    }


def test_up_with_kafka_runs_apache_kafka_with_its_data_in_the_data_dir() -> None:
    plan = Plan(Path("/tmp/x"), 9092, 8081, 8701, 8702, None, None, "usmf", broker="kafka")
    broker = plan.infrastructure()[0]
    assert broker.argv[-6:] == ["kafka", "run", "--data-dir", "/tmp/x/kafka", "--port", "9092"]
    assert "Apache Kafka" in plan.broker_description() and "/tmp/x/kafka" in plan.broker_description()
    embedded = Plan(Path("/tmp/x"), 9092, 8081, 8701, 8702, None, None, "usmf")
    assert "gone when the broker stops" in embedded.broker_description()
