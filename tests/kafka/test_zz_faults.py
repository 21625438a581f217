"""Faults only a cluster has (this module runs last in the tier: it empties the shared cluster and stops,
kills and restarts its nodes), under a load of new and changed accounts on the three-node cluster.

Each test runs the accounts pipeline (CRM sandbox -> source -> streams -> sink -> ERP sandbox) as the
processes `p2c up` starts, writes accounts into the CRM in batches while the fault happens, renames every
tenth, and ends when every account is exactly one customer in the ERP with its latest name, read through
the ERP's OData API.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from p2c import topics
from p2c.init import initialise
from p2c.kafka import KafkaCluster
from p2c.process import ManagedProcess, free_port
from p2c.settings import KafkaSettings, RegistrySettings
from p2c.supervisor import Supervisor
from p2c.up import Plan
from tests.kafka.cluster_tools import elect_preferred_leaders, leader, reset
from tests.kafka.diagnosis import diagnosis, missing_accounts
from tests.support.load import load_batch, load_customers, rename_every_tenth, with_latest_names
from tests.support.odata import crm, erp, wait_for

pytestmark = [pytest.mark.timeout(420), pytest.mark.slow]

TOTAL, BATCH = 600, 150  # four batches: the faults happen after the first, second or third
BUSY = topics.CRM_ACCOUNTS.name


class Pipeline:
    """The accounts path of `p2c up` on the cluster, with components that can be added and removed."""

    def __init__(self, data_dir: Path, bootstrap: str, registry_url: str) -> None:
        self.plan = Plan(data_dir, 0, 0, free_port(), free_port(), bootstrap, registry_url, "usmf")
        self.kafka = KafkaSettings(bootstrap_servers=bootstrap)
        self.supervisor = Supervisor()
        self.running: dict[str, ManagedProcess] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.watcher = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        """What `p2c up` does every few seconds: restart a component that died."""
        while not self.stopping.wait(0.5):
            with self.lock:
                self.supervisor.check()

    def start(self) -> None:
        self.plan.logs.mkdir(parents=True, exist_ok=True)
        initialise(self.kafka, RegistrySettings(schema_registry_url=self.plan.registry_url), partitions=4)
        for proc in self.plan.sandboxes():
            self.supervisor.start(proc)
        for proc in self.plan.pipeline():
            if proc.name in ("source-crm", "streams", "sink-erp"):
                self.supervisor.start(proc, ready_timeout=90)
                self.running[proc.name] = proc
        self.watcher.start()

    def add(self, component: str, name: str) -> ManagedProcess:
        """Another process of ``component`` (``streams`` or ``sink-erp``) in the same consumer group."""
        proc = next(p for p in self.plan.pipeline() if p.name == component)
        proc.name = name
        proc.log_path = self.plan.logs / f"{name}.log"
        proc.pid_path = self.plan.data_dir / "run" / f"{name}.pid"
        with self.lock:
            self.supervisor.start(proc, ready_timeout=90)
        self.running[name] = proc
        return proc

    def remove(self, name: str) -> None:
        """Stop a process for good (SIGTERM: it leaves its group); the supervisor no longer restarts it."""
        with self.lock:
            proc = self.running.pop(name)
            self.supervisor.children = [c for c in self.supervisor.children if c.process is not proc]
            proc.stop()

    def stop(self) -> None:
        self.stopping.set()
        if self.watcher.is_alive():
            self.watcher.join()
        self.supervisor.stop_all()


@pytest.fixture
def pipeline(tmp_path: Path, kafka_cluster: KafkaCluster, registry_url: str) -> Iterator[Pipeline]:
    kafka = KafkaSettings(bootstrap_servers=kafka_cluster.bootstrap_servers)
    reset(kafka)
    running = Pipeline(tmp_path, kafka_cluster.bootstrap_servers, registry_url)
    running.start()
    yield running
    running.stop()
    for node_id, process in kafka_cluster.processes.items():  # a test that failed half-way leaves no node down
        if not process.alive():
            kafka_cluster.start_node(node_id)
    kafka_cluster.wait_ready(120)


def load_with(pipeline: Pipeline, fault_at: dict[int, Callable[[], None]]) -> None:
    """Write TOTAL accounts in batches, call ``fault_at[batch number]`` after that batch, rename every
    tenth account, then wait until the ERP holds each one exactly once with its latest name."""
    c, e = crm(pipeline.plan.crm_url), erp(pipeline.plan.erp_url)
    for number, start in enumerate(range(0, TOTAL, BATCH)):
        assert c.batch("POST", load_batch(start, BATCH)) == [204] * BATCH
        if number == 0:
            wait_for("the load to reach the ERP", lambda: load_customers(e) or None, timeout=120, every=0.1)
        if number in fault_at:
            fault_at[number]()
    rename_every_tenth(c, TOTAL)
    try:
        wait_for(f"all {TOTAL} customers with their latest names", with_latest_names(e, TOTAL), timeout=180, every=1.0)
    except AssertionError as exc:  # say where the missing ones stopped while the cluster is still up
        raise AssertionError(f"{exc}\n{diagnosis(pipeline.kafka, missing_accounts(e, TOTAL))}") from None


def test_a_broker_killed_during_a_load_and_restarted_loses_nothing(
    pipeline: Pipeline, kafka_cluster: KafkaCluster
) -> None:
    victim = leader(pipeline.kafka, BUSY, 0)  # the leader of a partition the load is writing to

    def kill() -> None:
        kafka_cluster.kill(victim)

    def restart() -> None:
        kafka_cluster.start_node(victim)
        kafka_cluster.wait_ready(120)

    load_with(pipeline, {0: kill, 2: restart})
    assert kafka_cluster.processes[victim].alive()
    assert leader(pipeline.kafka, BUSY, 0) != -1


def test_the_leader_of_the_busy_topic_moved_during_a_load_loses_nothing(
    pipeline: Pipeline, kafka_cluster: KafkaCluster
) -> None:
    partitions = [(BUSY, p) for p in range(4)]
    preferred = leader(pipeline.kafka, BUSY, 0)
    # A controlled shutdown hands the node's leaderships to the others; back, it is a follower only.
    kafka_cluster.stop_node(preferred)
    kafka_cluster.start_node(preferred)
    kafka_cluster.wait_ready(120)
    before = leader(pipeline.kafka, BUSY, 0)
    assert before != preferred
    moved: list[int] = []

    def move() -> None:
        elect_preferred_leaders(pipeline.kafka, partitions)
        moved.append(wait_for("the leader to move", lambda: (n := leader(pipeline.kafka, BUSY, 0)) == preferred and n))

    load_with(pipeline, {1: move})
    assert moved == [preferred]


def test_a_worker_and_a_sink_added_and_one_of_each_removed_during_a_load_lose_nothing(pipeline: Pipeline) -> None:
    def add() -> None:
        pipeline.add("streams", "streams-2")
        pipeline.add("sink-erp", "sink-erp-2")

    def remove() -> None:
        pipeline.remove("streams")
        pipeline.remove("sink-erp")

    load_with(pipeline, {0: add, 2: remove})
    assert set(pipeline.running) == {"source-crm", "streams-2", "sink-erp-2"}
    assert all(p.alive() for p in pipeline.running.values())
