"""The ``p2c`` command: a thin layer over library calls.

Sub-commands live beside the code they drive and are imported only when used, so ``p2c --help`` stays fast
and a component's heavy imports (Faust, say) load only in the process that runs it.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

import click

from p2c import __version__
from p2c.errors import EXIT_UNREACHABLE, P2CError

# name -> (module, attribute, one-line help)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "up": ("p2c.up", "up", "Start everything: broker, registry, sandboxes, sources, streams, sinks."),
    "down": ("p2c.background", "down", "Stop the p2c up running on a data directory."),
    "logs": ("p2c.tail", "logs", "The logs of p2c up's components (-f to follow)."),
    "status": ("p2c.status", "status", "Per flow: events in, written, waiting, dead-lettered, lag."),
    "init": ("p2c.init", "init", "Create p2c's topics and register its schemas (idempotent)."),
    "broker": ("p2c.broker", "broker", "Run the embedded Kafka-compatible broker (in memory)."),
    "kafka": ("p2c.kafka.cli", "kafka", "Fetch and run Apache Kafka (KRaft) from Maven Central."),
    "registry": ("p2c.registry.cli", "registry", "The Confluent-compatible schema registry service."),
    "schemas": ("p2c.schemas_cli", "schemas", "Register, list, show, diff and check Avro schemas."),
    "templates": ("p2c.streams.templates_cli", "templates", "Your own templates and schemas: check, diff."),
    "sandbox": ("p2c.sandbox.cli", "sandbox", "Dataverse-like CRM and FinOps-like ERP services on SQLite."),
    "source": ("p2c.connectors.cli", "source", "Run a source connector (CRM or ERP change feed to Kafka)."),
    "sink": ("p2c.connectors.cli", "sink", "Run a sink connector (Kafka to the CRM or the ERP)."),
    "streams": ("p2c.streams.cli", "streams", "Run the Faust stream processors that map, route and join."),
    "dlq": ("p2c.control.dlq_cli", "dlq", "Dead letters: list, show, retry, discard."),
    "trace": ("p2c.control.trace_cli", "trace", "A record's way through a flow: changes, writes, waits, dead letters."),
    "control": ("p2c.control.cli", "control", "The control API, the console in the browser and /metrics."),
    "reconcile": (
        "p2c.control.reconcile.cli",
        "reconcile",
        "Compare the CRM and the ERP, per flow: what differs.",
    ),
    "replay": ("p2c.control.replay.cli", "replay", "Replay a flow from a point in its topics while p2c runs."),
    "resync": ("p2c.control.resync_cli", "resync", "Have the running sources read a flow in full again."),
    "setup": ("p2c.connectors.setup_cli", "setup", "Check (and set up) what p2c needs of a Sales tenant."),
}


class Failed(click.ClickException):
    """What a command ended with, said in one line, with the exit code of its kind (p2c.errors)."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _connection_errors() -> tuple[type[Exception], ...]:
    """Errors of the clients p2c drives that mean "the other side did not answer"."""
    import httpx
    from confluent_kafka import KafkaException

    return (KafkaException, httpx.TransportError, ConnectionError)


class LazyGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except P2CError as exc:
            raise Failed(str(exc), exc.exit_code) from exc
        except _connection_errors() as exc:
            raise Failed(f"{exc}: is it running, and is its address right?", EXIT_UNREACHABLE) from exc

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in COMMANDS if self._available(name))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, attr, _ = COMMANDS[cmd_name]
        command: click.Command = getattr(importlib.import_module(module), attr)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    @staticmethod
    def _available(name: str) -> bool:
        return importlib.util.find_spec(COMMANDS[name][0]) is not None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(__version__, prog_name="p2c")
def main(**_: Any) -> None:
    """p2c keeps Dynamics 365 Sales and Finance and Operations in sync, continuously, over Kafka."""
