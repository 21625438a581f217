"""Initial load: a seeded tenant from an empty broker to the targets, until ``p2c reconcile`` finds them in sync.

    python bench/bench_initial_load.py [--scale 1.0] [--lines 5] [--timeout 1800] [--broker kafka] [--json]

Seeds a temporary data directory with the issue's tenant times ``--scale`` (20,000 accounts, 20,000 contacts,
2,000 products, 4,000 quotes of ``--lines`` lines: ``p2c sandbox seed``), starts ``p2c up --no-seed`` on free
ports (its own empty broker; ``--broker kafka``: Apache Kafka), and reads the figures of ``p2c status --json``
(the control API's ``GET /api/flows``) from Kafka every second, from the moment the broker answers. Per flow it
notes when the source's full loads finished, when the streams had read every change event and settled them, and
when the sink had nothing left to read (lag 0, nothing in flight or held; the time of its last write). Once every
flow is settled it runs ``p2c reconcile --json``; exit 0 ends the run, else it polls on and tries again, and
the same differences found twice (everything settled in between) end it too: they stay, and are printed.

Each stage's time is when it last moved, from the first load's start: ``source`` the loads' finish, ``streams``
the read at which the streams' figures last changed (up to a second late), ``sink`` its last write. Records/s =
source rows (the sources' count) / seconds from the first load's start to the flow's last stage; the overall
figure takes every flow's rows and the last flow's end. Printed with the core count and load, and the CPU of
each process under ``p2c up`` (% of one core) from ``p2c up`` ready to the moment every flow looked settled.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.procs import cpu_by_name, cpu_share
from p2c.process import free_port, p2c_command
from p2c.settings import KafkaSettings
from p2c.status import StatusReader, as_json, collect
from p2c.up import BROKERS
from tests.support.up import start_p2c_up

QUIET_S = 5.0
TENANT = {"accounts": 20_000, "contacts": 20_000, "products": 2_000, "quotes": 4_000}


def stage(flow: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s["total"] for s in flow["stages"] if s["stage"] == name)
    return found


def progress(flow: dict[str, Any], before: dict[str, Any] | None, now: float, marks: dict[str, float]) -> bool:
    """Note in ``marks`` when each stage of a flow last moved; True once the flow looks settled end to end: loads
    done, every event read and handled, nothing to read or held in the sink, no change for ``QUIET_S``."""
    loads = flow["loads"]
    if loads and all(load["state"] == "done" for load in loads):
        marks["source_done"] = max(load["finished_ms"] for load in loads) / 1000
    streams, sink = stage(flow, "streams"), stage(flow, "sink")
    if before is None or stage(before, "streams") != streams:
        marks["streams_done"] = now  # the streams' figures moved since the last read
    if flow["last_sync_ms"]:
        marks["sink_done"] = flow["last_sync_ms"] / 1000  # its sink's last write
    idle = streams["read"] >= flow["events_in"] and streams["in_flight"] == 0
    idle = idle and flow["lag"] == 0 and sink["in_flight"] == 0 and sink["held"] == 0
    quiet = now - max(marks.get("streams_done", now), marks.get("sink_done", 0)) >= QUIET_S
    return "source_done" in marks and idle and quiet


class Watch(threading.Thread):
    """Reads the flows' figures every second, from the moment the broker answers, and notes when they settle."""

    def __init__(self, kafka: KafkaSettings, port: int) -> None:
        super().__init__(daemon=True)
        self.kafka, self.port, self.stop = kafka, port, threading.Event()
        self.flows: list[dict[str, Any]] = []
        self.marks: dict[str, dict[str, float]] = {}
        self.settled = False

    def run(self) -> None:
        reader = StatusReader(self.kafka)  # the same clients each second: a read must not load the broker it measures
        try:
            while not self.stop.wait(1):
                self._read(reader)
        finally:
            reader.close()

    def _read(self, reader: StatusReader) -> None:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            flows = as_json(collect(self.kafka, reader))["flows"]
        except Exception:  # the broker or its topics are not there yet
            return
        before = {f["flow"]: f for f in self.flows}
        now = time.time()
        self.settled = all(
            [progress(f, before.get(f["flow"]), now, self.marks.setdefault(f["flow"], {})) for f in flows]
        )
        self.flows = flows
        rows = sum(stage(f, "sink")["written"] for f in flows)
        print(f"\r{rows} records written to the targets", end="", file=sys.stderr)

    def again(self) -> None:
        """Not in sync yet: what settled was not the end."""
        self.settled = False


def reconcile(up: Any) -> tuple[int, dict[str, Any], float]:
    started = time.monotonic()
    argv = p2c_command("reconcile", "--json", "--crm-url", up.crm_url, "--erp-url", up.erp_url)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=900)
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        report = {"stdout": done.stdout[-2000:], "stderr": done.stderr[-2000:]}
    return done.returncode, report, time.monotonic() - started


def summary(report: dict[str, Any]) -> str:
    """A reconcile report in one line (its per-flow counts when it has them)."""
    flows = report.get("flows")
    if isinstance(flows, list):
        return "; ".join(json.dumps({k: v for k, v in f.items() if not isinstance(v, list)}) for f in flows)
    return json.dumps(report)[:2000]


def run(args: argparse.Namespace) -> dict[str, Any]:
    sizes = {name: max(1, round(n * args.scale)) for name, n in TENANT.items()}
    data_dir = Path(tempfile.mkdtemp(prefix="bench-load-"))
    seeding = time.monotonic()
    options = [f"--{name}={n}" for name, n in sizes.items()] + [f"--lines={args.lines}"]
    subprocess.run(p2c_command("sandbox", "seed", "--data-dir", str(data_dir), *options), check=True)
    seed_s = time.monotonic() - seeding
    print(f"seeded {sizes}, {args.lines} lines a quote, in {seed_s:.0f} s", file=sys.stderr)
    env = {"P2C_SESSION_TIMEOUT_MS": str(KafkaSettings().session_timeout_ms)}
    ports = {name: free_port() for name in ("broker", "registry", "crm", "erp", "control")}
    watch = Watch(KafkaSettings(bootstrap_servers=f"127.0.0.1:{ports['broker']}"), ports["broker"])
    watch.start()
    started = time.time()
    up = start_p2c_up(data_dir, "--broker", args.broker, "--no-seed", ports=ports, timeout=240, env=env)
    ready = time.time()
    cpu_at_ready = cpu_by_name(up.process.pid)
    cpu: dict[str, float] = {}
    verdict: tuple[int, dict[str, Any], float] = (-1, {}, 0.0)
    settled_at = 0.0
    differences = ""
    try:
        while time.time() - started < args.timeout:
            time.sleep(1)
            if watch.settled:
                settled_at = max(max(m.values()) for m in watch.marks.values())
                cpu = cpu_share(cpu_at_ready, cpu_by_name(up.process.pid), time.time() - ready)
                verdict = reconcile(up)
                print(f"\nreconcile exit {verdict[0]} in {verdict[2]:.0f} s", file=sys.stderr)
                if verdict[0] == 0 or summary(verdict[1]) == differences:
                    break
                differences = summary(verdict[1])
                settled_at = 0.0
                watch.again()
    finally:
        watch.stop.set()
        up.process.stop()
    flows, marks = watch.flows, watch.marks
    begun = min((ld["started_ms"] / 1000 for f in flows for ld in f["loads"] if ld.get("started_ms")), default=ready)
    per_flow = {}
    for f in flows:
        rows = stage(f, "source")["written"]
        m = marks.get(f["flow"], {})
        per_flow[f["flow"]] = {
            "source_rows": rows,
            "target_records": stage(f, "sink")["written"],
            "dead_lettered": f["dead_lettered"],
            **{f"{k}_s": round(v - begun, 1) for k, v in sorted(m.items(), key=lambda kv: kv[1])},
            "records_per_s": round(rows / max(max(m.values()) - begun, 1e-3)) if m and settled_at else None,
        }
    rows = sum(p["source_rows"] for p in per_flow.values())
    return {
        "in_sync": verdict[0] == 0,
        "records_per_s": round(rows / max(settled_at - begun, 1e-3)) if settled_at else None,
        "source_rows": rows,
        "seconds": round(settled_at - begun, 1) if settled_at else None,
        "up_to_ready_s": round(ready - started, 1),
        "first_load_after_start_s": round(begun - started, 1),
        "reconcile_s": round(verdict[2], 1),
        "cpu_percent_of_a_core": cpu,
        "reconcile": summary(verdict[1]) if verdict[0] != 0 else "in sync",
        "flows": per_flow,
        "tenant": sizes | {"lines_per_quote": args.lines},
        "seed_s": round(seed_s, 1),
        "broker": args.broker,
        "cores": os.cpu_count(),
        "load": [round(x, 2) for x in os.getloadavg()],
        "data_dir": str(data_dir),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="times the issue's tenant (0.1: a tenth)")
    parser.add_argument("--lines", type=int, default=5, help="lines per quote")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds before giving up")
    parser.add_argument("--broker", choices=BROKERS, default=BROKERS[0], help="p2c up --broker")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = run(args)
    if args.json:
        print(json.dumps(figures))
        return
    for name, f in figures["flows"].items():
        stages = "  ".join(f"{k[:-2].replace('_done', '')} {v:.1f} s" for k, v in f.items() if k.endswith("_done_s"))
        print(
            f"{name:<10} {f['source_rows']:>7} rows -> {f['target_records']:>7} records "
            f"({f['dead_lettered']} dead-lettered)  {f['records_per_s'] or '-':>6} rows/s  done: {stages}"
        )
    state = "in sync (p2c reconcile exit 0)" if figures["in_sync"] else f"NOT in sync: {figures['reconcile']}"
    print(
        f"initial load: {figures['source_rows']} rows in {figures['seconds']} s = {figures['records_per_s']} rows/s "
        f"(target 3,000), {state}; reconcile took {figures['reconcile_s']} s"
    )
    print(
        f"p2c up ready after {figures['up_to_ready_s']} s, first load began {figures['first_load_after_start_s']} s "
        f"after start; seed {figures['seed_s']} s; broker {figures['broker']}; cores {figures['cores']}, "
        f"load {figures['load']}"
    )
    shares = ", ".join(f"{name} {pct:.0f}" for name, pct in figures["cpu_percent_of_a_core"].items() if pct >= 1)
    print(f"CPU from ready to settled, % of a core: {shares}")


if __name__ == "__main__":
    main()
