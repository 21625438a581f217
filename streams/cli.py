"""``p2c streams``: run the stream processors."""

from __future__ import annotations

import logging

import click

from p2c import logs, options
from p2c.errors import P2CError
from p2c.flows import NAMES
from p2c.settings import KafkaSettings, RegistrySettings, load
from p2c.streams.settings import StreamsSettings


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
def streams() -> None:
    """The Faust stream processors: map, route and join change events into target writes."""


@streams.command()
@options.bootstrap_servers
@options.schema_registry_url
@options.config_file
@click.option(
    "--company",
    envvar="P2C_STREAMS_COMPANY",
    default=None,
    show_envvar=True,
    help="FinOps legal entity (dataAreaId) the writes go to  [default: usmf]",
)
@click.option(
    "--flow", "flows", multiple=True, type=click.Choice(NAMES), help="Flow to run; repeat for several  [default: all]"
)
@click.option(
    "--web-port",
    type=int,
    default=None,
    help="Port of Faust's web server (stats, health); without it no web server runs.",
)
@click.option(
    "--log-level",
    default="INFO",
    envvar="P2C_LOG_LEVEL",
    show_envvar=True,
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
)
def worker(
    bootstrap_servers: str,
    schema_registry_url: str,
    config_file: str | None,
    company: str | None,
    flows: tuple[str, ...],
    web_port: int | None,
    log_level: str,
) -> None:
    """Run a streams worker until SIGINT or SIGTERM; start several to share the partitions."""
    logs.configure(log_level)
    logging.getLogger("httpx2").setLevel(max(logging.WARNING, logging.getLevelName(log_level.upper())))
    try:
        kafka = load(KafkaSettings, "kafka", config_file, bootstrap_servers=bootstrap_servers)
        registry = load(RegistrySettings, "registry", config_file, schema_registry_url=schema_registry_url)
        settings = load(
            StreamsSettings, "streams", config_file, company=company, flows=flows or None, web_port=web_port
        )
        from p2c.streams.worker import run  # Faust loads only here

        run(kafka, registry, settings, log_level.lower())
    except P2CError as exc:
        raise click.ClickException(str(exc)) from exc
