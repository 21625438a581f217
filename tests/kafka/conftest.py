"""The Apache Kafka tier: the tests that matter for production, on a three-node KRaft cluster.

One cluster per test session (replication factor 3, ``min.insync.replicas`` 2, as a production cluster),
fetched from Maven Central into the cache on first use and started from its jars. Skipped, with the reason,
only where Java 17+ is missing. The modules here re-run tests of tests/integration and tests/e2e with the
session broker swapped for this cluster, and add the faults only a cluster has.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from p2c.kafka import KafkaCluster, java_problem
from p2c.settings import KafkaSettings
from tests.kafka.cluster_tools import reset
from tests.support.services import kafka, logs_dir, registry_url, workers
from tests.support.up import Running, start_p2c_up

__all__ = ["broker_kind", "kafka", "kafka_bootstrap", "kafka_cluster", "logs_dir", "p2c_up", "registry_url", "workers"]

NODES = 3
JAVA_PROBLEM = java_problem()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if JAVA_PROBLEM is None:
        return
    skip = pytest.mark.skip(reason=f"Apache Kafka tier skipped: {JAVA_PROBLEM}")
    for item in items:
        if item.nodeid.startswith("tests/kafka/"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def kafka_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    cluster = KafkaCluster(tmp_path_factory.mktemp("kafka-cluster"), nodes=NODES)
    cluster.start(timeout=180, progress=print)
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def broker_kind() -> str:
    return "kafka"


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_cluster: KafkaCluster) -> str:
    return kafka_cluster.bootstrap_servers


@pytest.fixture(scope="module")
def p2c_up(tmp_path_factory: pytest.TempPathFactory, kafka_cluster: KafkaCluster) -> Iterator[Running]:
    """`p2c up` on the cluster, from empty topics and consumer groups (the tests before left theirs)."""
    reset(KafkaSettings(bootstrap_servers=kafka_cluster.bootstrap_servers))
    running = start_p2c_up(tmp_path_factory.mktemp("p2c-up-kafka"), bootstrap=kafka_cluster.bootstrap_servers)
    yield running
    running.process.stop(timeout=30)
