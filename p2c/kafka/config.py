"""What a KRaft node is told: its ``server.properties`` and its log4j2 configuration.

Every node is broker and controller at once (combined mode), listens on loopback only, and keeps its data
in its own directory. Replication follows the cluster size: three nodes or more get replication factor 3 and
``min.insync.replicas`` 2 for every topic (p2c's own, Faust's changelogs, the consumer offsets); one node gets 1.
The thread pools and the log cleaner's buffer are sized for a development machine, not for throughput.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PRODUCTION_REPLICATION = 3
PRODUCTION_MIN_INSYNC = 2

LOG4J2 = """\
status = error
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.out.ref = STDOUT
logger.server.name = kafka.server.KafkaRaftServer
logger.server.level = INFO
logger.broker.name = kafka.server.BrokerServer
logger.broker.level = INFO
logger.storage.name = kafka.tools.StorageTool
logger.storage.level = INFO
"""


@dataclass(frozen=True)
class NodeAddress:
    node_id: int
    port: int  # Kafka protocol, what clients bootstrap from
    controller_port: int  # KRaft quorum


def replication_for(nodes: int) -> tuple[int, int]:
    """(replication factor, min.insync.replicas) for a cluster of ``nodes``."""
    replication = min(PRODUCTION_REPLICATION, nodes)
    return replication, min(PRODUCTION_MIN_INSYNC, replication)


def server_properties(node: NodeAddress, voters: list[NodeAddress], log_dir: Path, host: str = "127.0.0.1") -> str:
    replication, min_insync = replication_for(len(voters))
    quorum = ",".join(f"{v.node_id}@{host}:{v.controller_port}" for v in voters)
    settings = {
        "process.roles": "broker,controller",
        "node.id": node.node_id,
        "controller.quorum.voters": quorum,
        "listeners": f"PLAINTEXT://{host}:{node.port},CONTROLLER://{host}:{node.controller_port}",
        "advertised.listeners": f"PLAINTEXT://{host}:{node.port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(log_dir),
        "num.partitions": 4,
        "default.replication.factor": replication,
        "min.insync.replicas": min_insync,
        "offsets.topic.replication.factor": replication,
        "offsets.topic.num.partitions": 10,
        "transaction.state.log.replication.factor": replication,
        "transaction.state.log.min.isr": min_insync,
        "transaction.state.log.num.partitions": 4,
        "unclean.leader.election.enable": "false",
        # p2c's tests use 2 s sessions (the broker's default floor is 6 s); no delay before the first rebalance.
        "group.min.session.timeout.ms": 1000,
        "group.initial.rebalance.delay.ms": 0,
        # Sized for a small machine running several nodes at once.
        "num.network.threads": 2,
        "num.io.threads": 2,
        "background.threads": 2,
        "num.recovery.threads.per.data.dir": 1,
        "log.cleaner.threads": 1,
        "log.cleaner.dedupe.buffer.size": 16 * 1024 * 1024,
    }
    return "".join(f"{key}={value}\n" for key, value in settings.items())
