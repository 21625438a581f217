"""``p2c control``: the control API and console as a process of its own (``p2c up`` runs one too)."""

from __future__ import annotations

import click

from p2c import logs, options
from p2c.broker import port_is_free
from p2c.control.server import DEFAULT_PORT, serve
from p2c.errors import ConfigurationError
from p2c.settings import KafkaSettings, load


@click.command(context_settings={"show_default": True})
@click.option("--host", default="127.0.0.1", help="Address to listen on (loopback: only this machine).")
@click.option("--port", default=DEFAULT_PORT, type=int, envvar="P2C_CONTROL_PORT", show_envvar=True)
@options.bootstrap_servers
@options.config_file
def control(host: str, port: int, bootstrap_servers: str | None, config_file: str | None) -> None:
    """Serve the control API (JSON, /api/openapi.json), the console (/) and Prometheus metrics (/metrics)."""
    logs.configure()
    kafka = load(KafkaSettings, "kafka", config_file, bootstrap_servers=bootstrap_servers)
    if not port_is_free(host, port):
        raise ConfigurationError(f"port {port} on {host} is taken: stop what holds it or choose another --port")
    serve(kafka, host, port)
