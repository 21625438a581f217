"""``p2c resync FLOW``: the running sources read FLOW's entity sets in full again (control/resync.py).

Exit 0 done; 2 a bad option; 3 Kafka not reachable, no running source took it, or it stalled.
"""

from __future__ import annotations

import json
import sys
import time

import click

from p2c import logs, options
from p2c.control.resync import Progress, ResyncRun
from p2c.flows import NAMES
from p2c.reachable import require_kafka
from p2c.settings import KafkaSettings, load


def show(progress: Progress) -> None:
    loads = ", ".join(
        f"{entity} {load.get('done', 0)}/{load.get('total') or '?'}" for entity, load in progress.loads.items()
    )
    text = f"resync {progress.flow}: {progress.state}{': ' + loads if loads else ''}"
    click.echo(f"\r\033[K{text}" if sys.stderr.isatty() else text, nl=not sys.stderr.isatty(), err=True)


@click.command(context_settings={"show_default": True})
@click.argument("flow", type=click.Choice(NAMES))
@click.option("--json", "as_json", is_flag=True, help="The outcome as one JSON document.")
@click.option("--timeout", type=float, default=60.0, help="Seconds to wait for the running sources to take it.")
@options.bootstrap_servers
@options.config_file
def resync(flow: str, as_json: bool, timeout: float, bootstrap_servers: str | None, config_file: str | None) -> None:
    """Have the running sources read FLOW's entity sets in full again from the source systems, and wait until
    they have: for what a replay cannot bring back (a change topic's retention, lost join changelogs). Rows go out
    at their versions: what the target has is skipped, what it lost is written again."""
    logs.configure("WARNING")
    kafka = load(KafkaSettings, "kafka", config_file, bootstrap_servers=bootstrap_servers)
    require_kafka(kafka)
    shown = [0.0]

    def progress(p: Progress) -> None:
        if p.state != "reading" or time.monotonic() - shown[0] >= (0.2 if sys.stderr.isatty() else 5.0):
            shown[0] = time.monotonic()
            show(p)

    outcome = ResyncRun(kafka, flow, answer_timeout=timeout, on_progress=progress).run()
    if sys.stderr.isatty():
        click.echo(err=True)
    if as_json:
        click.echo(json.dumps(outcome.as_json(), indent=2))
    else:
        took = (outcome.finished or time.time()) - outcome.started
        click.echo(f"resynced {flow}: {outcome.done} rows of {', '.join(outcome.loads)} read again in {took:.1f} s")
