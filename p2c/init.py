"""``p2c init``: prepare a Kafka cluster and a schema registry for p2c. Safe to run any number of times.

Creates the topics that are missing and registers every schema of ``schemas/`` under ``<topic>-value``.
``p2c up`` does this itself; in production run it once per deployment (docker-compose's ``init`` service).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time

import click

from p2c import logs, options
from p2c import schemas as contracts
from p2c.admin import ensure_topics, wait_for_cluster
from p2c.errors import P2CError, RetriableError
from p2c.flows import ALL_TOPICS
from p2c.schemas_cli import Outcome, Registry, register_one
from p2c.settings import KafkaSettings, RegistrySettings, load
from p2c.topics import METRICS, POSITIONS, Topic

log = logging.getLogger("p2c.init")


def topics_to_create(partitions: int) -> list[Topic]:
    """Every topic p2c uses; data topics with ``partitions`` partitions (positions and metrics keep one)."""
    return [t if t in (POSITIONS, METRICS) else dataclasses.replace(t, partitions=partitions) for t in ALL_TOPICS]


def wait_for_kafka(kafka: KafkaSettings, timeout: float) -> None:
    """Return once Kafka answers; after ``timeout`` seconds of asking, say so (in those seconds, not a probe's)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            wait_for_cluster(kafka, timeout=min(2.0, timeout))
            return
        except RetriableError as exc:
            if time.monotonic() > deadline:
                raise RetriableError(
                    f"Kafka at {kafka.bootstrap_servers} did not answer within {timeout:.0f} s. Is the broker "
                    "running (p2c up, or p2c broker) and is --bootstrap-servers right?"
                ) from exc
            log.info("waiting for Kafka at %s", kafka.bootstrap_servers)


def register_all(registry_settings: RegistrySettings) -> list[Outcome]:
    registry = Registry(registry_settings)
    try:
        return [
            register_one(registry, Topic(topic).subject, json.dumps(contracts.load(topic)))
            for topic in contracts.topics()
        ]
    finally:
        registry.close()


def initialise(
    kafka: KafkaSettings, registry_settings: RegistrySettings, partitions: int, wait: float = 60.0
) -> list[Outcome]:
    """Create missing topics, register schemas; raise P2CError naming what was rejected."""
    wait_for_kafka(kafka, wait)
    created = ensure_topics(kafka, topics_to_create(partitions))
    log.info("topics ready (%d created)", len(created))
    outcomes = register_all(registry_settings)
    rejected = [o for o in outcomes if o.status == "rejected"]
    if rejected:
        reasons = "; ".join(f"{o.subject}: {' '.join(o.reasons)}" for o in rejected)
        raise P2CError(f"schemas rejected by the registry: {reasons}")
    log.info(
        "schemas ready: %d registered, %d unchanged",
        sum(o.status == "registered" for o in outcomes),
        sum(o.status == "unchanged" for o in outcomes),
    )
    return outcomes


@click.command()
@options.bootstrap_servers
@options.schema_registry_url
@options.config_file
@click.option("--partitions", default=4, show_default=True, help="Partitions of each data topic created now.")
@click.option("--wait", default=60.0, show_default=True, help="Seconds to wait for Kafka to answer.")
def init(
    bootstrap_servers: str, schema_registry_url: str, config_file: str | None, partitions: int, wait: float
) -> None:
    """Create p2c's topics and register its schemas (idempotent)."""
    logs.configure()
    kafka = load(KafkaSettings, "kafka", config_file, bootstrap_servers=bootstrap_servers)
    registry = load(RegistrySettings, "registry", config_file, schema_registry_url=schema_registry_url)
    initialise(kafka, registry, partitions, wait)  # a P2CError ends the command with its exit code (p2c.cli)
    click.echo("ready")
