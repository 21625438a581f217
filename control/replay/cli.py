"""``p2c replay FLOW --from earliest|OFFSET|TIME [--stage streams|sink]``: rewind a flow while p2c runs.

The same library as ``POST /api/replays``. It needs Kafka and the running processes of the stage (they do
the rewinding); it waits until the stage has read everything again, showing progress on stderr.
Exit 0 done; 2 a bad option; 3 Kafka or the stage's processes not reachable.
"""

from __future__ import annotations

import json
import sys
import time

import click

from p2c import logs, options
from p2c.control.replay.run import STAGES, Progress, Replay
from p2c.control.replay.seek import Start
from p2c.flows import NAMES
from p2c.reachable import require_kafka
from p2c.settings import KafkaSettings, load


class StderrProgress:
    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.shown = 0.0

    def __call__(self, p: Progress) -> None:
        final = p.state in ("done", "failed")
        if not final and time.monotonic() - self.shown < (0.2 if self.tty else 5.0) and p.state == "replaying":
            return
        self.shown = time.monotonic()
        text = f"replay {p.flow} ({p.stage}, from {p.start}): {p.state}, {p.done}/{p.total} records"
        if self.tty:
            click.echo(f"\r\033[K{text}", nl=final, err=True)
        else:
            click.echo(text, err=True)


@click.command(context_settings={"show_default": True})
@click.argument("flow", type=click.Choice(NAMES))
@click.option(
    "--from",
    "start",
    required=True,
    help="earliest, an offset (in every partition), or a time (ISO 8601, e.g. 2026-12-01T04:00:00Z).",
)
@click.option(
    "--stage",
    type=click.Choice(STAGES),
    default="streams",
    help="streams: the flow's change topics through its logic again; sink: its target writes into the target again.",
)
@click.option("--json", "as_json", is_flag=True, help="The outcome as one JSON document.")
@click.option("--timeout", type=float, default=60.0, help="Seconds to wait for the running processes to rewind.")
@options.bootstrap_servers
@options.config_file
def replay(
    flow: str,
    start: str,
    stage: str,
    as_json: bool,
    timeout: float,
    bootstrap_servers: str | None,
    config_file: str | None,
) -> None:
    """Rewind FLOW's consumer group at one stage, while p2c keeps running, and wait until it has read it all again.
    Writes carry their versions: what the target has is skipped, what it lost is written again."""
    logs.configure("WARNING")
    from p2c.streams.settings import StreamsSettings

    kafka = load(KafkaSettings, "kafka", config_file, bootstrap_servers=bootstrap_servers)
    streams = load(StreamsSettings, "streams", config_file)
    require_kafka(kafka)
    job = Replay(
        kafka,
        flow,
        Start.parse(start),
        stage,
        streams_group=streams.app_id,
        answer_timeout=timeout,
        on_progress=StderrProgress(),
    )
    outcome = job.run()
    if as_json:
        click.echo(json.dumps(outcome.as_json(), indent=2))
    else:
        click.echo(
            f"replayed {flow} ({stage}, from {outcome.start}): {outcome.done} records in {outcome.partitions} "
            f"partitions read again in {(outcome.finished or time.time()) - outcome.started:.1f} s"
        )
