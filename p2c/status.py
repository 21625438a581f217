"""Per-flow figures from Kafka alone, so ``p2c status`` works wherever the components run.

events in      change events on the flow's source topics (their end offsets)
written        records the sinks wrote to the target (sink counters in p2c.metrics)
waiting        change events parked on a missing dependency (streams gauge), by what they wait for: each
               under one label (``customer, product``), so the breakdown adds up to the figure
skipped        change events the streams wrote nothing for (streams counters)
dead-lettered  records on p2c.dlq.<flow> (its end offsets)
lag            records not yet read on the flow's topics (end minus committed, streams and sinks; what a sink
               read past its commit, held back or after one held back, is not lag: `held` in the sink stage)

Below the table, each stage's counts in its own unit, that add up (p2c.stages), and when the flow last wrote.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import click

from p2c import logs, options
from p2c.flows import FLOWS, STREAMS_GROUP, Flow
from p2c.metrics import SKIPPED, WAITING, WAITING_ON, WRITTEN, SnapshotTail
from p2c.offsets import OffsetsReader
from p2c.reachable import require_kafka
from p2c.settings import KafkaSettings, load
from p2c.stages import StageCounts, last_written_ms, live, loads, stages


@dataclass
class FlowStatus:
    flow: str
    direction: str
    events_in: int = 0
    written: int = 0
    waiting: int = 0
    skipped: int = 0
    dead_lettered: int = 0
    lag: int = 0
    waiting_on: dict[str, int] = field(default_factory=dict)
    stages: list[StageCounts] = field(default_factory=list)
    last_sync_ms: int | None = None  # when its sink last wrote a record
    loads: list[dict[str, Any]] = field(default_factory=list)  # its sources' loads (p2c.stages.loads)


@dataclass
class ComponentStatus:
    """A component and how many of its processes reported in the last ``STALE_AFTER_S`` seconds."""

    component: str
    live: int
    last_seen_s: float

    @property
    def stale(self) -> bool:
        return self.live == 0


@dataclass
class Report:
    flows: list[FlowStatus]
    components: list[ComponentStatus]
    #: what every process instance last published (p2c.metrics), for views that need more of it
    snapshots: dict[str, dict[str, Any]] = field(default_factory=dict)


def _lag(ends: dict[tuple[str, int], int], committed: dict[tuple[str, int], int]) -> int:
    total = 0
    for tp, end in ends.items():
        done = committed.get(tp, -1)
        total += end - max(done, 0) if done >= 0 else end
    return max(total, 0)


def _flow_lag(
    offsets: OffsetsReader, flow: Flow, ends: dict[tuple[str, int], int], past_commit: dict[tuple[str, int], int]
) -> int:
    """Records not read yet: by the streams on the source topics, by the sinks on the target topics (what a sink
    read past its committed offset, held back or after one held back, is read: not lag)."""
    src = {tp: e for tp, e in ends.items() if tp[0] in {t.name for t in flow.sources}}
    lag = _lag(src, offsets.committed(STREAMS_GROUP, list(src)))
    for target, group in zip(flow.targets, flow.sink_groups, strict=True):
        tgt = {tp: e for tp, e in ends.items() if tp[0] == target.name}
        committed = offsets.committed(group, list(tgt))
        lag += _lag(tgt, {tp: _read_up_to(c, past_commit.get(tp, 0)) for tp, c in committed.items()})
    return lag


def _read_up_to(committed: int, past: int) -> int:
    """The offset a sink has read up to: its committed offset (from the start when none) and past it."""
    return committed if past <= 0 else max(committed, 0) + past


def _past_commit(snapshots: Iterable[dict[str, Any]], now_ms: float) -> dict[tuple[str, int], int]:
    """(topic, partition) -> records the running sinks read past their committed offset."""
    found: dict[tuple[str, int], int] = {}
    for snap in snapshots:
        if live(snap, now_ms):
            for topic, parts in (snap.get("past_commit") or {}).items():
                for partition, n in parts.items():
                    found[(topic, int(partition))] = found.get((topic, int(partition)), 0) + int(n)
    return found


class StatusReader:
    """The Kafka clients :func:`collect` reads with, kept by a caller that collects again and again (``p2c up``'s
    status, ``p2c status --watch``, the initial-load bench): each read then takes only what is new, over the same
    connections. Not thread-safe."""

    def __init__(self, kafka: KafkaSettings) -> None:
        self.snapshots = SnapshotTail(kafka)
        self.offsets = OffsetsReader(kafka)

    def close(self) -> None:
        self.snapshots.close()
        self.offsets.close()


def collect(kafka: KafkaSettings, reader: StatusReader | None = None) -> Report:
    """The status of every flow; ``reader``: the clients of a caller that collects again and again."""
    if reader is None:
        once = StatusReader(kafka)
        try:
            return collect(kafka, once)
        finally:
            once.close()
    names = sorted({t.name for f in FLOWS for t in (*f.sources, *f.targets, f.dead_letter)})
    ends = reader.offsets.ends(names)
    snapshots = reader.snapshots.read()
    now_ms = time.time() * 1000
    past = _past_commit(snapshots.values(), now_ms)
    flows = []
    for flow in FLOWS:
        status = FlowStatus(flow.name, flow.direction)
        status.events_in = sum(e for (t, _), e in ends.items() if t in {s.name for s in flow.sources})
        status.dead_lettered = sum(e for (t, _), e in ends.items() if t == flow.dead_letter.name)
        for snap in snapshots.values():
            counts = snap.get("counts", {}).get(flow.name, {})
            status.written += int(counts.get(WRITTEN, 0)) if snap.get("component", "").startswith("sink") else 0
            status.skipped += int(counts.get(SKIPPED, 0)) if snap.get("component") == "streams" else 0
            if live(snap, now_ms):
                gauges = snap.get("gauges", {}).get(flow.name, {})
                status.waiting += int(gauges.get(WAITING, 0))
                for what, n in gauges.get(WAITING_ON, {}).items():
                    status.waiting_on[what] = status.waiting_on.get(what, 0) + int(n)
        status.lag = _flow_lag(reader.offsets, flow, ends, past)
        status.stages = stages(flow.name, snapshots.values(), now_ms)
        status.last_sync_ms = last_written_ms(flow.name, snapshots.values())
        status.loads = loads(flow.name, snapshots.values(), now_ms)
        flows.append(status)
    return Report(flows, _components(snapshots.values(), now_ms), snapshots)


def _components(snapshots: Iterable[dict[str, Any]], now_ms: float) -> list[ComponentStatus]:
    by_name: dict[str, ComponentStatus] = {}
    for snap in snapshots:
        name = snap.get("component", "?")
        entry = by_name.setdefault(name, ComponentStatus(name, 0, float("inf")))
        entry.live += live(snap, now_ms)
        entry.last_seen_s = min(entry.last_seen_s, (now_ms - snap.get("ts_ms", 0)) / 1000)
    return sorted(by_name.values(), key=lambda c: c.component)


COLUMNS = ("flow", "direction", "events in", "written", "waiting", "skipped", "dead-lettered", "lag")


def render(report: Report) -> str:
    rows = [COLUMNS] + [
        (f.flow, f.direction, f.events_in, f.written, f.waiting, f.skipped, f.dead_lettered, f.lag)
        for f in report.flows
    ]
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(COLUMNS))]
    lines = [
        "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        for row in cells
    ]
    for f in report.flows:
        if f.waiting_on:
            waits = ", ".join(f"{n} on {what}" for what, n in sorted(f.waiting_on.items()))
            lines.append(f"  {f.flow} waiting: {waits}")
    lines.extend(stage_lines(report.flows))
    if report.components:
        parts = [
            f"{c.component} (not seen for {c.last_seen_s:.0f} s)" if c.stale else f"{c.component} ({c.live} live)"
            for c in report.components
        ]
        lines.append("components: " + ", ".join(parts))
    return "\n".join(lines)


def stage_lines(flows: Iterable[FlowStatus]) -> list[str]:
    """Per flow and stage, since the flow began: read = each outcome, in the stage's unit."""
    lines = []
    for f in flows:
        synced = clock(f.last_sync_ms)
        lines.append(f"{f.flow} (last write {synced}):")
        lines.extend(f"  {load_line(load)}" for load in f.loads)
        for s in f.stages:
            t = s.total
            parts = [f"written {t.written}"]
            parts += [f"{name} {n}" for name, n in (("waiting", t.waiting), ("held", t.held)) if n]
            parts += [f"skipped {t.skipped}"] if t.skipped else []
            parts += [f"dead-lettered {t.dead_lettered}"] if t.dead_lettered else []
            parts += [f"requeued {t.requeued}"] if t.requeued else []
            parts += [f"in flight {t.in_flight}"] if t.in_flight else []
            lines.append(f"  {s.stage:<8}{s.unit:<15} read {t.read} = " + " + ".join(parts))
            for rule, n in sorted(t.skipped_by.items()):
                lines.append(f"{'':<25}skipped {n}: {rule}")
    return lines


def clock(ms: float | None) -> str:
    return "never" if not ms else time.strftime("%H:%M:%S", time.localtime(ms / 1000))


def load_line(load: dict[str, Any]) -> str:
    """``full load of accounts: 1200 of 5000 rows (24%), 400/s, 10 s left; last poll 10:02:03``."""
    total = load.get("total")
    done = int(load.get("done", 0))
    of = f"{done} of {total} rows ({100 * done // max(total, 1)}%)" if total is not None else f"{done} rows"
    if load["state"] == "loading":
        text = f"full load of {load['entity']}: {of}, {load.get('rate_per_s', 0):.0f}/s"
        text += f", {load['seconds_left']:.0f} s left" if "seconds_left" in load else ", time left unknown (no total)"
    elif load["state"] == "done":
        text = f"full load of {load['entity']} done at {clock(load.get('finished_ms'))}: {of}"
    else:
        text = f"{load['entity']}"
    return f"{text}; last poll {clock(load.get('last_poll_ms'))}"


def as_json(report: Report) -> dict[str, Any]:
    return {
        "flows": [
            asdict(f)
            | {"stages": [s.as_json() for s in f.stages], "adds_up": all(s.total.in_flight == 0 for s in f.stages)}
            for f in report.flows
        ],
        "components": [asdict(c) | {"stale": c.stale} for c in report.components],
    }


@click.command()
@options.bootstrap_servers
@options.config_file
@click.option("--json", "as_json_output", is_flag=True, help="Print JSON instead of a table.")
@click.option("--watch", is_flag=True, help="Refresh every 2 seconds until Ctrl-C.")
def status(bootstrap_servers: str, config_file: str | None, as_json_output: bool, watch: bool) -> None:
    """Per flow: events in, records written, waiting, skipped, dead-lettered, lag."""
    logs.configure("WARNING")
    kafka = load(KafkaSettings, "kafka", config_file, bootstrap_servers=bootstrap_servers)
    require_kafka(kafka)
    reader = StatusReader(kafka)
    try:
        while True:
            report = collect(kafka, reader)
            if as_json_output:
                click.echo(json.dumps(as_json(report), indent=2))
            else:
                if watch:
                    click.clear()
                click.echo(render(report))
            if not watch:
                return
            time.sleep(2)
    finally:
        reader.close()
