"""``p2c trace FLOW KEY``: a record's way through a flow, stage by stage (control/trace.py, like the API)."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from p2c import logs, options
from p2c.control.trace import templates_of
from p2c.control.trace import trace as trace_record
from p2c.errors import P2CError
from p2c.flows import NAMES
from p2c.reachable import require_kafka
from p2c.serde import Codecs
from p2c.settings import KafkaSettings, RegistrySettings, load


def render(found: dict[str, Any]) -> str:
    """The trace as lines a person reads: time, stage, what happened."""
    lines = [
        f"{found['flow']} {found['key']}"
        + (f" (id {', '.join(found['ids'])})" if found["ids"] != [found["key"]] else "")
    ]
    for s in found["steps"]:
        when = (s["time"] or "").replace("T", " ").rstrip("Z")
        if s["stage"] == "source":
            text = f"{s['op']} version {s['version']} on {s['at']}"
            text += f": {s['why']}" if s.get("why") else ""
        else:
            text = f"{s['op']} {s['key']} version {s['version']} to {s['at']}; sink: {s['sink']}"
            for note in s.get("changed", []):
                text += f"\n{'':29}changed: {note}"
            if s["cleared"]:
                text += f"\n{'':29}cleared: {', '.join(s['cleared'])}"
        if s.get("dead_letter"):
            text += f"\n{'':29}dead-lettered: {s['dead_letter']}"
        lines.append(f"{when:<19}  {s['stage']:<8} {text}")
    waiting = found.get("waiting")
    if waiting:
        on = ", ".join(f"{what} ({n})" for what, n in sorted(waiting["waiting_on"].items()))
        lines.append(f"waiting on {on}, holding {waiting['events']} change event(s)")
        for dep in waiting["dependencies"]:
            letter = dep["dead_letter"]
            why = (
                f"dead-lettered ({letter['id']}, {letter['state']}): {letter['reason']}" if letter else "no dead letter"
            )
            lines.append(f"  {dep['join']} {dep['key']}: {why}")
    for letter in found["dead_letters"]:
        lines.append(
            f"dead letter {letter['id']} ({letter['state']}, {letter['stage']}, {letter['time']}): {letter['reason']}"
        )
    scan = found["scan"]
    read = sum(scan["records_read"].values())
    lines.append(
        f"read {read} records of {len(scan['records_read'])} topics"
        + ("" if scan["complete"] else f" (stopped after {scan['budget_s']:.0f} s: incomplete)")
    )
    return "\n".join(lines)


@click.command()
@click.argument("flow", type=click.Choice(NAMES))
@click.argument("key")
@click.option("--json", "as_json", is_flag=True, help="Print the trace as JSON.")
@click.option("--budget", default=20.0, show_default=True, help="Seconds the scan of the topics may take.")
@options.bootstrap_servers
@options.config_file
def trace(
    flow: str, key: str, as_json: bool, budget: float, bootstrap_servers: str | None, config_file: str | None
) -> None:
    """A record's way through FLOW: its changes, writes, the sink, waits, skips, changes and dead letters.

    KEY is the record's id or a value of its row (an account number, say).
    """
    logs.configure("WARNING")
    kafka = load(KafkaSettings, "kafka", config_file, bootstrap_servers=bootstrap_servers)
    require_kafka(kafka)
    codecs = Codecs.from_settings(load(RegistrySettings, "registry", config_file))
    tty = sys.stderr.isatty()

    def progress(topic: str, n: int) -> None:
        if tty:
            click.echo(f"\rreading {topic}: {n} records", nl=False, err=True)

    found = trace_record(kafka, codecs, flow, key, templates_of(flow), progress, budget).as_json()
    if tty:
        click.echo("\r\033[K", nl=False, err=True)
    click.echo(json.dumps(found, indent=2) if as_json else render(found))
    if not found["found"]:
        raise P2CError(f"no record {key!r} in flow {flow}: neither an id nor a value of a row on its topics")
