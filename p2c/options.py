"""Click options every component shares, so they are spelled and documented once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from p2c.settings import DEFAULT_BOOTSTRAP_SERVERS, DEFAULT_SCHEMA_REGISTRY_URL

F = TypeVar("F", bound=Callable[..., Any])

bootstrap_servers = click.option(
    "--bootstrap-servers",
    envvar="P2C_BOOTSTRAP_SERVERS",
    default=DEFAULT_BOOTSTRAP_SERVERS,
    show_default=True,
    show_envvar=True,
    help="Kafka bootstrap servers: the embedded broker or any Apache Kafka cluster.",
)

schema_registry_url = click.option(
    "--schema-registry-url",
    envvar="P2C_SCHEMA_REGISTRY_URL",
    default=DEFAULT_SCHEMA_REGISTRY_URL,
    show_default=True,
    show_envvar=True,
    help="Schema registry URL: p2c's own, Confluent Schema Registry, Karapace or Redpanda.",
)

config_file = click.option(
    "--config",
    "config_file",
    envvar="P2C_CONFIG",
    type=click.Path(dir_okay=False),
    default=None,
    show_envvar=True,
    help="TOML file with one [section] per component; P2C_* environment variables override it.",
)
