"""The Apache Kafka tier: the tests that matter for production, on a three-node KRaft cluster.

One cluster per test session (replication factor 3, ``min.insync.replicas`` 2, as a production cluster),
fetched from Maven Central into the cache on first use and started from its jars. Skipped, with the reason,
only where Java 17+ is missing. The modules here re-run tests of tests/integration and tests/e2e with the
session broker swapped for this cluster, and add the faults only a cluster has.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from p2c.kafka import KafkaCluster, java_problem
from p2c.settings import KafkaSettings
from tests.kafka.cluster_tools import reset
from tests.support.services import kafka, logs_dir, registry_url, workers
from tests.support.up import Running, start_p2c_up

__all__ = ["broker_kind", "kafka", "kafka_bootstrap", "kafka_cluster", "logs_dir", "p2c_up", "registry_url", "workers"]

NODES = 3
JAVA_PROBLEM = java_problem()


class ClusterStart:
    """The session cluster, started in the background as soon as the tier is collected.

    Started at collection, not in the first test that needs it: on a busy machine three JVMs take more than a
    test's timeout to start, and by the time the tier runs (after the other tiers) they are ready.
    """

    def __init__(self, directory: Path) -> None:
        self.cluster = KafkaCluster(directory, nodes=NODES)
        self.error: BaseException | None = None
        self.started = threading.Event()
        self.finished = threading.Event()
        self.thread = threading.Thread(target=self._run, name="kafka-cluster", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.cluster.start(timeout=300, progress=print)
        except BaseException as exc:  # reported by the fixture, in the test that needs the cluster
            self.error = exc
        self.started.set()
        # The nodes die with the thread that started them (PR_SET_PDEATHSIG is per thread): it lives on.
        self.finished.wait()
        self.cluster.stop()

    def get(self) -> KafkaCluster:
        self.started.wait()
        if self.error is not None:
            raise self.error
        return self.cluster

    def stop(self) -> None:
        self.finished.set()
        self.thread.join()


STARTING: list[ClusterStart] = []


#: Tests of the tier that the plain `pytest` leaves out, each with why, until they pass reliably on Apache Kafka
#: (`P2C_TEST_KAFKA_ALL=1 pytest tests/kafka` runs them). None now: issue 11's note has the runs that settled
#: the last ones (the broker kill, the worker/sink rebalance, e2e and table recovery on Kafka).
UNSETTLED: tuple[str, ...] = ()


#: Modules made of tests imported from other modules: they run in their source's order, not the imports'
#: (alphabetical) one: the e2e accounts module checks every seeded account before a later test leaves a
#: dead-lettered account in the CRM that never becomes a customer.
IN_SOURCE_ORDER = ("tests/kafka/test_y_on_kafka_e2e.py",)


def _source_order(item: pytest.Item) -> tuple[str, int]:
    function = getattr(item, "function", None)
    return (function.__module__, function.__code__.co_firstlineno) if function is not None else ("", 0)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for module in IN_SOURCE_ORDER:
        where = [i for i, item in enumerate(items) if item.nodeid.startswith(module)]
        if where:
            items[where[0] : where[-1] + 1] = sorted(items[where[0] : where[-1] + 1], key=_source_order)
    tier = [item for item in items if item.nodeid.startswith("tests/kafka/")]
    if not os.environ.get("P2C_TEST_KAFKA_ALL"):
        unsettled = pytest.mark.skip(
            reason="not settled on Apache Kafka yet (issue 11): run with P2C_TEST_KAFKA_ALL=1 pytest tests/kafka"
        )
        for item in tier:
            if item.nodeid.startswith(UNSETTLED):
                item.add_marker(unsettled)
        tier = [item for item in tier if not item.nodeid.startswith(UNSETTLED)]
    if JAVA_PROBLEM is not None:
        skip = pytest.mark.skip(reason=f"Apache Kafka tier skipped: {JAVA_PROBLEM}")
        for item in tier:
            item.add_marker(skip)
    elif tier and not STARTING:
        STARTING.append(ClusterStart(Path(tempfile.mkdtemp(prefix="p2c-kafka-cluster-"))))


def pytest_sessionfinish(session: pytest.Session) -> None:
    for start in STARTING:
        start.stop()
        shutil.rmtree(start.cluster.directory, ignore_errors=True)


@pytest.fixture(scope="session")
def kafka_cluster() -> KafkaCluster:
    if not STARTING:
        pytest.skip("the Apache Kafka cluster was not started (no tier test collected)")
    return STARTING[0].get()


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
