"""Click options every component shares, so they are spelled and documented once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from p2c.settings import DEFAULT_BOOTSTRAP_SERVERS, DEFAULT_SCHEMA_REGISTRY_URL

F = TypeVar("F", bound=Callable[..., Any])

# No click defaults: a value given here must beat the --config file, and an absent one must not. The
# settings classes hold the defaults; the help texts show them.
bootstrap_servers = click.option(
    "--bootstrap-servers",
    envvar="P2C_BOOTSTRAP_SERVERS",
    default=None,
    show_envvar=True,
    help="Kafka bootstrap servers: the embedded broker or any Apache Kafka cluster "
    f"[default: {DEFAULT_BOOTSTRAP_SERVERS}].",
)

schema_registry_url = click.option(
    "--schema-registry-url",
    envvar="P2C_SCHEMA_REGISTRY_URL",
    default=None,
    show_envvar=True,
    help="Schema registry URL: p2c's own, Confluent Schema Registry, Karapace or Redpanda "
    f"[default: {DEFAULT_SCHEMA_REGISTRY_URL}].",
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

data_dir = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".p2c"),
    show_default=True,
    help="The data directory of a p2c up: sandbox databases, component logs, its lock.",
)
