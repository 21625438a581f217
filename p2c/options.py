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


def _apply_overrides(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Make the customer's template and schema directories of this config (or the environment) current."""
    from p2c import overrides
    from p2c.errors import ConfigurationError

    try:
        overrides.configure(value)
    except ConfigurationError as exc:
        raise click.BadParameter(str(exc), ctx, param) from exc
    return value


config_file = click.option(
    "--config",
    "config_file",
    envvar="P2C_CONFIG",
    type=click.Path(dir_okay=False),
    default=None,
    show_envvar=True,
    callback=_apply_overrides,
    help="TOML file with one [section] per component; P2C_* environment variables override it. Its [mappings] "
    "(templates_dir, schemas_dir) name the customer's own templates and schemas.",
)


templates_dir = click.option(
    "--templates-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="P2C_TEMPLATES_DIR",
    show_envvar=True,
    default=None,
    help="Your templates: <stem>.toml and maps/<name>.toml override or extend the shipped ones "
    "[default: [mappings] templates_dir of --config, else none].",
)
schemas_dir = click.option(
    "--schemas-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="P2C_SCHEMAS_DIR",
    show_envvar=True,
    default=None,
    help="Your schemas: <topic>.avsc override or extend the shipped ones "
    "[default: [mappings] schemas_dir of --config, else none].",
)

data_dir = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".p2c"),
    show_default=True,
    help="The data directory of a p2c up: sandbox databases, component logs, its lock.",
)
