"""Per flow and stage, counts that add up: every record a stage read is written, waiting, held, skipped (under
the rule that skipped it), dead-lettered, or still being handled.

One unit per stage:

source   rows read from the source system (products: with the CRM's products read back for the quotes' join)
         read = written (published to the change topic) + dead-lettered
streams  change events read from the flow's change topics (a quote header and each line are one event each)
         read = written (the event ended in a write; a parked one when its record is released)
              + waiting (in records parked on a dependency) + skipped + dead-lettered
sink     records read from the flow's target topic (quotes: one quotation with all its lines)
         read = written + held (until a dependency exists in the target) + skipped + dead-lettered
              + requeued (held records given back at a rebalance or a stop: read again)

Two views, from the snapshots every process publishes to ``p2c.metrics`` (p2c.metrics):

total        since the flow began: every process instance that ever reported (a restart starts a new one)
since_start  the processes running now (reported in the last ``STALE_AFTER_S`` s and not stopped)

Handovers: streams events parked by an earlier run or another worker are ``carried_in`` by the worker that takes
them over and ``carried_out`` by the one that gave them up (a stopped one: what waited when it stopped); a
stopped or crashed process's unsettled records are ``requeued`` (read again by the next run). In the total view
carried_in and carried_out are equal once every handover is done.

``in_flight`` is what a stage read and has not settled yet (a batch being written): read + carried_in minus
every outcome. It is 0 when the stage is idle; anything else once idle is a counting bug.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from p2c.metrics import (
    CARRIED_IN,
    CARRIED_OUT,
    DEAD_LETTERED,
    HELD,
    IN,
    LAST_WRITTEN_MS,
    LOADS,
    READ,
    REQUEUED,
    SKIPPED,
    SKIPPED_BY,
    WAITING,
    WAITING_ON,
    WRITTEN,
)

STALE_AFTER_S = 15.0

UNITS = {
    "source": "source rows",
    "streams": "change events",
    "sink": "target records",
}


@dataclass
class Figures:
    """One stage's counts in one view; ``in_flight`` is derived."""

    read: int = 0
    carried_in: int = 0
    carried_out: int = 0
    written: int = 0
    waiting: int = 0
    waiting_on: dict[str, int] = field(default_factory=dict)
    held: int = 0
    skipped: int = 0
    skipped_by: dict[str, int] = field(default_factory=dict)
    dead_lettered: int = 0
    requeued: int = 0

    @property
    def settled(self) -> int:
        outcomes = self.written + self.waiting + self.held + self.skipped + self.dead_lettered
        return outcomes + self.requeued + self.carried_out

    @property
    def in_flight(self) -> int:
        return self.read + self.carried_in - self.settled

    def as_json(self) -> dict[str, Any]:
        return asdict(self) | {"in_flight": self.in_flight}


@dataclass
class StageCounts:
    stage: str
    unit: str
    total: Figures
    since_start: Figures

    def as_json(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "unit": self.unit,
            "total": self.total.as_json(),
            "since_start": self.since_start.as_json(),
        }


def stage_of(component: str) -> str | None:
    if component == "streams":
        return "streams"
    if component.startswith("source"):
        return "source"
    if component.startswith("sink"):
        return "sink"
    return None


def live(snapshot: dict[str, Any], now_ms: float) -> bool:
    """A running instance: reported in the last ``STALE_AFTER_S`` s, and its last report was not its final one."""
    recent = (now_ms - snapshot.get("ts_ms", 0)) / 1000 <= STALE_AFTER_S
    return recent and not snapshot.get("stopped", False)


def _add(figures: Figures, counts: dict[str, Any], stage: str) -> None:
    dead = int(counts.get(DEAD_LETTERED, 0))
    skipped = int(counts.get(SKIPPED, 0))
    figures.dead_lettered += dead
    figures.skipped += skipped
    for name, n in counts.items():
        if name.startswith(SKIPPED_BY):
            rule = name[len(SKIPPED_BY) :]
            figures.skipped_by[rule] = figures.skipped_by.get(rule, 0) + int(n)
    if stage == "source":
        figures.written += int(counts.get(IN, 0))
        figures.read += int(counts.get(IN, 0)) + dead
        return
    figures.written += int(counts.get(WRITTEN, 0))
    figures.read += int(counts.get(IN if stage == "streams" else READ, 0))
    figures.requeued += int(counts.get(REQUEUED, 0))
    figures.carried_in += int(counts.get(CARRIED_IN, 0))
    figures.carried_out += int(counts.get(CARRIED_OUT, 0))


def _add_gauges(figures: Figures, gauges: dict[str, Any]) -> None:
    figures.waiting += int(gauges.get(WAITING, 0))
    for what, n in (gauges.get(WAITING_ON) or {}).items():
        figures.waiting_on[what] = figures.waiting_on.get(what, 0) + int(n)
    figures.held += int(gauges.get(HELD, 0))


def stages(flow: str, snapshots: Iterable[dict[str, Any]], now_ms: float) -> list[StageCounts]:
    """The flow's source, streams and sink counts, in both views."""
    result = {s: StageCounts(s, u, Figures(), Figures()) for s, u in UNITS.items()}
    for snap in snapshots:
        stage = stage_of(str(snap.get("component", "")))
        if stage is None:
            continue
        counts = snap.get("counts", {}).get(flow, {})
        gauges = snap.get("gauges", {}).get(flow, {})
        entry = result[stage]
        _add(entry.total, counts, stage)
        if live(snap, now_ms):
            _add(entry.since_start, counts, stage)
            _add_gauges(entry.total, gauges)
            _add_gauges(entry.since_start, gauges)
        else:
            # A stopped or crashed process: the change events parked in the streams' state are handed over to
            # the next run; everything else it read and did not settle (a sink's held records, a batch a crash
            # cut short) was not committed, so the next run reads it again.
            mine = Figures()
            _add(mine, counts, stage)
            parked = int(gauges.get(WAITING, 0)) if stage == "streams" else 0
            entry.total.carried_out += parked
            entry.total.requeued += max(mine.in_flight - parked, 0)
    return list(result.values())


def last_written_ms(flow: str, snapshots: Iterable[dict[str, Any]]) -> int | None:
    """When a sink last wrote a record of ``flow`` (ms since the epoch), or None."""
    times = [
        int(snap.get("gauges", {}).get(flow, {}).get(LAST_WRITTEN_MS, 0))
        for snap in snapshots
        if stage_of(str(snap.get("component", ""))) == "sink"
    ]
    return max(times, default=0) or None


def progress(entry: dict[str, Any], now_ms: float) -> dict[str, Any]:
    """A load's figures with its rate (rows/s) and time left (s) while it runs, when its total is known."""
    started, finished = entry.get("started_ms"), entry.get("finished_ms")
    done, total = int(entry.get("done", 0)), entry.get("total")
    result = dict(entry) | {"state": "done" if finished else ("loading" if started else "polling")}
    if started:
        elapsed = max(((finished or now_ms) - started) / 1000, 1e-3)
        result["rate_per_s"] = round(done / elapsed, 1)
        if not finished and total is not None and done:
            result["seconds_left"] = round(max(total - done, 0) / (done / elapsed), 1)
    return result


def loads(flow: str, snapshots: Iterable[dict[str, Any]], now_ms: float) -> list[dict[str, Any]]:
    """The flow's sources' loads, per entity set (the newest report of each), with rate and time left."""
    newest: dict[str, dict[str, Any]] = {}
    for snap in snapshots:
        if stage_of(str(snap.get("component", ""))) != "source":
            continue
        for entity, entry in (snap.get("gauges", {}).get(flow, {}).get(LOADS) or {}).items():
            seen = max(entry.get("last_poll_ms") or 0, entry.get("started_ms") or 0)
            mine = newest.get(entity)
            if mine is None or seen >= max(mine.get("last_poll_ms") or 0, mine.get("started_ms") or 0):
                newest[entity] = entry
    return [{"entity": entity} | progress(entry, now_ms) for entity, entry in sorted(newest.items())]
