"""``p2c registry``: the command line of the schema registry (a thin layer over ``registry.server``)."""

from __future__ import annotations

import asyncio

import click

from p2c import logs, options
from p2c.settings import KafkaSettings, load


@click.group()
def registry() -> None:
    """The Confluent-compatible schema registry, keeping its schemas in a Kafka topic."""


@registry.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8081, show_default=True, type=int, help="Port to listen on (0: any free port).")
@options.bootstrap_servers
@options.config_file
@click.option("--topic", default="_schemas", show_default=True, help="The topic holding the registry's log.")
def serve(host: str, port: int, bootstrap_servers: str | None, config_file: str | None, topic: str) -> None:
    """Serve the Confluent Schema Registry REST API, the schemas kept in the TOPIC topic of Kafka."""
    from p2c.registry.kafka_store import KafkaStore
    from p2c.registry.server import serve as run

    logs.configure()
    settings = load(KafkaSettings, "kafka", config_file, bootstrap_servers=bootstrap_servers)
    asyncio.run(run(KafkaStore(settings, topic), host, port))
