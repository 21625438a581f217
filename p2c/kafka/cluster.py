"""Apache Kafka in KRaft mode, one node or several, from the fetched jars, on loopback.

Layout of a cluster directory (kept across runs: data survives a stop)::

    cluster.json          the cluster id (generated once; storage is formatted with it)
    log4j2.properties
    node-<id>/server.properties, node-<id>/data/ (the node's log directory), node-<id>/kafka.log (its output)

Each node is a :class:`p2c.process.ManagedProcess`: it dies with its parent (PR_SET_PDEATHSIG) and is stopped
with SIGTERM (Kafka's controlled shutdown), then SIGKILL if it hangs.
"""

from __future__ import annotations

import base64
import json
import logging
import subprocess
import time
import uuid
from pathlib import Path

from p2c.admin import wait_for_cluster
from p2c.errors import ConfigurationError, RetriableError
from p2c.kafka.artifacts import KAFKA_VERSION
from p2c.kafka.config import LOG4J2, NodeAddress, server_properties
from p2c.kafka.fetch import Progress, fetch
from p2c.kafka.settings import KafkaRuntimeSettings, require_java
from p2c.process import ManagedProcess, free_port, tcp_open
from p2c.settings import KafkaSettings

log = logging.getLogger("p2c.kafka")

HOST = "127.0.0.1"
STOP_TIMEOUT_S = 30.0


def new_cluster_id() -> str:
    """A KRaft cluster id: a UUID in URL-safe base64 without padding (22 characters)."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


class KafkaCluster:
    """``nodes`` combined broker+controller nodes in ``directory``; ``ports`` fixes the client ports."""

    def __init__(
        self,
        directory: Path,
        nodes: int = 1,
        ports: list[int] | None = None,
        runtime: KafkaRuntimeSettings | None = None,
    ) -> None:
        if ports is not None and len(ports) != nodes:
            raise ConfigurationError(f"{nodes} node(s) need {nodes} port(s), got {len(ports)}")
        self.directory = directory
        self.runtime = runtime or KafkaRuntimeSettings()
        client_ports = ports or [free_port(HOST) for _ in range(nodes)]
        self.addresses = [NodeAddress(i + 1, port, free_port(HOST)) for i, port in enumerate(client_ports)]
        self.processes: dict[int, ManagedProcess] = {}
        self.libs: Path | None = None

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(f"{HOST}:{a.port}" for a in self.addresses)

    def node_dir(self, node_id: int) -> Path:
        return self.directory / f"node-{node_id}"

    def _java(self, main: str, *args: str) -> list[str]:
        assert self.libs is not None
        return [
            self.runtime.java,
            f"-Xmx{self.runtime.kafka_heap}",
            "-Xms64m",
            "-XX:+UseSerialGC",  # one GC thread: several nodes share two cores
            "-XX:TieredStopAtLevel=1",  # starts in ~half the time; plenty for a development broker
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.directory / 'log4j2.properties'}",
            "-cp",
            f"{self.libs}/*",
            main,
            *args,
        ]

    def _cluster_id(self) -> str:
        meta = self.directory / "cluster.json"
        if meta.exists():
            return str(json.loads(meta.read_text())["cluster_id"])
        cluster_id = new_cluster_id()
        meta.write_text(json.dumps({"cluster_id": cluster_id, "kafka": KAFKA_VERSION, "nodes": len(self.addresses)}))
        return cluster_id

    def prepare(self, progress: Progress = log.info) -> None:
        """Fetch Kafka if needed, write every node's configuration, format the storage not formatted yet."""
        require_java(self.runtime.java)
        self.libs = fetch(self.runtime.home, progress)
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "log4j2.properties").write_text(LOG4J2)
        cluster_id = self._cluster_id()
        formatting = []
        for address in self.addresses:
            node_dir = self.node_dir(address.node_id)
            node_dir.mkdir(parents=True, exist_ok=True)
            props = node_dir / "server.properties"
            props.write_text(server_properties(address, self.addresses, node_dir / "data", HOST))
            if (node_dir / "data" / "meta.properties").exists():
                continue
            argv = self._java("kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(props))
            formatting.append(
                (address.node_id, subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
            )
        for node_id, proc in formatting:
            out, _ = proc.communicate(timeout=120)
            if proc.returncode != 0:
                raise ConfigurationError(f"formatting node {node_id} failed: {out.decode(errors='replace')[-2000:]}")
        if formatting:
            progress(f"formatted the storage of {len(formatting)} node(s) in {self.directory} (cluster {cluster_id})")

    def start_node(self, node_id: int, timeout: float | None = 90.0) -> None:
        """Start one node; wait until its port is open unless ``timeout`` is None (a lone node of a
        several-node cluster opens its port only once a quorum of controllers is up)."""
        address = self.addresses[node_id - 1]
        node_dir = self.node_dir(node_id)
        process = ManagedProcess(
            f"kafka-{node_id}",
            self._java("kafka.Kafka", str(node_dir / "server.properties")),
            log_path=node_dir / "kafka.log",
        )
        self.processes[node_id] = process
        process.start()
        process.ready = tcp_open(HOST, address.port)
        if timeout is not None:
            process.wait_ready(timeout)

    def start(self, timeout: float = 120.0, progress: Progress = log.info) -> None:
        """Prepare, start every node, return once the cluster reports all of them."""
        self.prepare(progress)
        started = time.monotonic()
        for address in self.addresses:
            self.start_node(address.node_id, None)
        for process in self.processes.values():
            process.wait_ready(timeout)
        self.wait_ready(timeout - (time.monotonic() - started))
        progress(
            f"Apache Kafka {KAFKA_VERSION}: {len(self.addresses)} node(s) ready at {self.bootstrap_servers} "
            f"in {time.monotonic() - started:.1f} s, data in {self.directory}"
        )

    def wait_ready(self, timeout: float) -> None:
        """Until the metadata lists every node (a node's port opens before it has registered)."""
        settings = KafkaSettings(bootstrap_servers=self.bootstrap_servers)
        deadline = time.monotonic() + max(timeout, 5.0)
        while True:
            dead = [p.name for p in self.processes.values() if not p.alive()]
            if dead:
                raise ConfigurationError(f"Kafka node(s) {', '.join(dead)} exited at start; see {self.directory}")
            try:
                if wait_for_cluster(settings, timeout=2.0) >= len(self.addresses):
                    return
            except RetriableError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RetriableError(f"the Kafka cluster in {self.directory} was not ready after {timeout:.0f} s")
            time.sleep(0.2)

    def kill(self, node_id: int) -> None:
        """SIGKILL one node: no controlled shutdown (for fault tests)."""
        self.processes[node_id].kill()

    def stop_node(self, node_id: int) -> None:
        self.processes[node_id].stop(STOP_TIMEOUT_S)

    def alive(self) -> bool:
        return bool(self.processes) and all(p.alive() for p in self.processes.values())

    def stop(self) -> None:
        """Controlled shutdown of every node, in parallel (a lone survivor waits for no quorum), then wait."""
        running = [p for p in self.processes.values() if p.alive()]
        for process in running:
            assert process.process is not None
            process.process.terminate()
        for process in running:
            process.stop(STOP_TIMEOUT_S)

    def __enter__(self) -> KafkaCluster:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
