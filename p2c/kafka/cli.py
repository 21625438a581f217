"""``p2c kafka fetch|run``: the pinned Apache Kafka, fetched from Maven Central and run from its jars."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from p2c import logs
from p2c.broker import run_until_signalled
from p2c.errors import ConfigurationError
from p2c.kafka.artifacts import KAFKA_VERSION
from p2c.kafka.cluster import KafkaCluster
from p2c.kafka.fetch import fetch as fetch_kafka
from p2c.kafka.settings import KafkaRuntimeSettings

log = logging.getLogger("p2c.kafka")

DISK_NOTICE = "data is kept on disk in {dir}: topics, positions, dead letters and offsets survive a restart"


@click.group()
def kafka() -> None:
    """Apache Kafka (KRaft) from Maven Central: fetch it, run one node or a small cluster on loopback."""


@kafka.command()
@click.option(
    "--maven/--no-maven", default=None, help="Resolve with mvn, or download over HTTPS [default: mvn if found]."
)
def fetch(maven: bool | None) -> None:
    """Fetch the pinned Apache Kafka and its dependencies into the cache (P2C_KAFKA_HOME); idempotent."""
    logs.configure()
    runtime = KafkaRuntimeSettings()
    try:
        libs = fetch_kafka(runtime.home, log.info, maven)
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Apache Kafka {KAFKA_VERSION}: {libs}")


@kafka.command()
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".p2c/kafka"),
    show_default=True,
    help="Cluster directory: each node's configuration, log directory and output.",
)
@click.option("--port", type=int, multiple=True, help="Client port of each node, in order [default: free ports].")
@click.option("--nodes", default=1, show_default=True, type=click.IntRange(min=1), help="Nodes (broker+controller).")
def run(data_dir: Path, port: tuple[int, ...], nodes: int) -> None:
    """Run Apache Kafka until Ctrl-C; its data stays in --data-dir for the next run."""
    logs.configure()
    log.info("Apache Kafka %s, KRaft, %d node(s): %s", KAFKA_VERSION, nodes, DISK_NOTICE.format(dir=data_dir))
    try:
        cluster = KafkaCluster(data_dir, nodes, list(port) or None)
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from exc

    def start() -> str:
        cluster.start()
        return cluster.bootstrap_servers

    died = f"a Kafka node exited unexpectedly; see {data_dir}/node-*/kafka.log"
    run_until_signalled(log, "Kafka", start, cluster.alive, cluster.stop, died)
    log.info("Kafka stopped; its data is in %s", data_dir)
