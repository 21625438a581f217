"""Real processes, started once per test run: a Kafka broker and the schema registry.

The broker is the embedded Tansu binary on a free port; where a Docker engine runs and ``P2C_TEST_DOCKER=1``,
testcontainers' Apache Kafka is used instead. tests/kafka runs the tests that matter for production again on
a three-node Apache Kafka cluster, with the same fixtures (tests/support/services.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from p2c.broker import EmbeddedBroker
from p2c.process import free_port
from tests.support.services import kafka, logs_dir, registry_url, workers

__all__ = ["broker_kind", "kafka", "kafka_bootstrap", "logs_dir", "registry_url", "workers"]


@pytest.fixture(scope="session")
def broker_kind() -> str:
    """What ``kafka_bootstrap`` is: ``embedded`` (Tansu) or ``kafka`` (Apache Kafka)."""
    return "kafka" if os.environ.get("P2C_TEST_DOCKER") == "1" else "embedded"


def _docker_kafka() -> Iterator[str]:
    from testcontainers.kafka import KafkaContainer

    with KafkaContainer() as kafka:
        yield kafka.get_bootstrap_server()


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``host:port`` of a running Kafka-protocol broker."""
    if os.environ.get("P2C_TEST_DOCKER") == "1":
        yield from _docker_kafka()
        return
    log_path = tmp_path_factory.mktemp("broker") / "broker.log"
    with EmbeddedBroker(port=free_port(), log_path=log_path) as broker:
        yield broker.bootstrap_servers
