"""docker-compose.yml cannot be run here (no Docker engine): check that it parses and that every p2c
service runs a command the p2c CLI accepts, with the production shape wired by service names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from p2c.cli import main
from p2c.kafka import KAFKA_VERSION
from p2c.kafka.config import NodeAddress, server_properties
from p2c.settings import KafkaSettings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return doc


def parse_p2c(args: list[str]) -> click.Context:
    """Resolve ``p2c <args>`` down to its leaf command and parse its options, without running it."""
    command: click.Command = main
    rest = list(args)
    while isinstance(command, click.Group):
        name, *rest = rest
        sub = command.get_command(click.Context(command), name)
        if sub is None:
            raise click.UsageError(f"unknown command {name}")
        command = sub
    return command.make_context(command.name or "", rest)


def p2c_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: svc for name, svc in compose["services"].items() if "build" in svc}


KAFKA_NODES = ("kafka-1", "kafka-2", "kafka-3")
BOOTSTRAP = ",".join(f"{node}:9092" for node in KAFKA_NODES)


def test_production_shape(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for node in KAFKA_NODES:
        assert services[node]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert services["schema-registry"]["image"].startswith("confluentinc/cp-schema-registry")
    expected = {"crm", "erp", "seed", "init", "source-crm", "source-erp", "streams", "sink-erp", "sink-crm"}
    assert expected <= set(p2c_services(compose))


def test_every_p2c_service_runs_a_valid_command(compose: dict[str, Any]) -> None:
    for name, service in p2c_services(compose).items():
        ctx = parse_p2c(service["command"])
        assert ctx.command.callback is not None, name


def test_services_find_each_other_by_name(compose: dict[str, Any]) -> None:
    for service in p2c_services(compose).values():
        env = service["environment"]
        assert env["P2C_BOOTSTRAP_SERVERS"] == BOOTSTRAP
        assert env["P2C_SCHEMA_REGISTRY_URL"] == "http://schema-registry:8081"
        assert env["P2C_CRM_URL"] == "http://crm:8701"
        assert env["P2C_ERP_URL"] == "http://erp:8702"


def test_a_wrong_command_is_caught() -> None:
    with pytest.raises(click.UsageError):
        parse_p2c(["broker", "--no-such-option"])


def test_kafka_is_the_version_and_the_settings_the_test_tier_runs(compose: dict[str, Any]) -> None:
    """The three nodes run the pinned Kafka with the durability of the tests' three-node cluster."""
    addresses = [NodeAddress(i, 9092, 9093) for i in (1, 2, 3)]
    tested = dict(line.split("=", 1) for line in server_properties(addresses[0], addresses, Path("/x")).splitlines())
    same = (
        "default.replication.factor",
        "min.insync.replicas",
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
        "unclean.leader.election.enable",
        "num.partitions",
    )
    for number, node in enumerate(KAFKA_NODES, 1):
        service = compose["services"][node]
        assert service["image"] == f"apache/kafka:{KAFKA_VERSION}"
        env = service["environment"]
        assert env["KAFKA_NODE_ID"] == number
        assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@kafka-1:9093,2@kafka-2:9093,3@kafka-3:9093"
        for key in same:
            assert str(env["KAFKA_" + key.upper().replace(".", "_")]) == tested[key], (node, key)


def test_p2c_services_use_the_production_durability_defaults(compose: dict[str, Any]) -> None:
    defaults = KafkaSettings()
    for service in p2c_services(compose).values():
        env = service["environment"]
        assert env["P2C_TOPIC_REPLICATION_FACTOR"] == str(defaults.topic_replication_factor)
        assert env["P2C_TOPIC_MIN_INSYNC_REPLICAS"] == str(defaults.topic_min_insync_replicas)
        assert env["P2C_PRODUCER_ACKS"] == defaults.producer_acks
        assert env["P2C_ISOLATION_LEVEL"] == defaults.isolation_level
