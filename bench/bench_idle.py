"""Idle cost of ``p2c up``: the CPU its processes use when nothing changes, per process and in total.

    python bench/bench_idle.py [--settle 20] [--duration 30] [--seed] [--broker kafka] [--attribute] [--json]

Starts ``p2c up`` (the embedded broker or, with ``--broker kafka``, Apache Kafka; registry, sandboxes, sources,
streams, sinks, console) on free ports and a temporary data directory, waits for ``ready`` and ``--settle``
seconds more (the first sync), then reads the CPU time (user + system, /proc) of ``p2c up`` and every process
under it over ``--duration`` seconds. Target: under 5 % of one core in total. Printed with the machine's core
count and load average.

The broker is most of the idle cost, and what it costs is answering the others. ``--attribute`` then stops each
process that talks to it (SIGSTOP; not the sandboxes, which do not) for ``--duration`` seconds in turn, after a
second for its requests in flight, and reads the broker's CPU meanwhile: the drop against the broker's own
figure is what that process's requests cost it. A process stopped longer than the session timeout (6 s) leaves
its consumer groups, and rejoins when continued: 10 s are left after each for that to settle.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.procs import BROKER_PROCESSES, broker_share, cpu_and_name, cpu_by_name, cpu_share, descendants
from p2c.settings import KafkaSettings

# the tests' way of starting `p2c up` as a user does
from p2c.up import BROKERS
from tests.support.up import start_p2c_up

#: the processes under ``p2c up`` besides the broker that do not talk to it (not stopped by --attribute)
NOT_KAFKA_CLIENTS = ("p2c sandbox", "p2c broker", "p2c kafka run")


def broker_cpu(root: int, seconds: float) -> float:
    """The broker's % of a core over the next ``seconds``."""
    before = broker_share(cpu_by_name(root))
    time.sleep(seconds)
    return (broker_share(cpu_by_name(root)) - before) / seconds * 100


def broker_cost_by_client(root: int, seconds: float, baseline: float) -> dict[str, float]:
    """Per Kafka client process under ``root``: how much less CPU the broker used while it was stopped."""
    clients: dict[str, list[int]] = {}
    for pid in descendants(root):
        found = cpu_and_name(pid)
        if found and not found[1].startswith((*BROKER_PROCESSES, *NOT_KAFKA_CLIENTS)):
            clients.setdefault(found[1], []).append(pid)
    cost = {}
    for name, pids in sorted(clients.items()):
        print(f"stopping {name} for {seconds:.0f} s", file=sys.stderr)
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        try:
            time.sleep(1.0)
            cost[name] = round(baseline - broker_cpu(root, seconds), 2)
        finally:
            for pid in pids:
                os.kill(pid, signal.SIGCONT)
        time.sleep(10.0)
    return dict(sorted(cost.items(), key=lambda kv: -kv[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--settle", type=float, default=20.0)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--seed", action="store_true", help="seed the sandboxes (default: --no-seed)")
    parser.add_argument("--broker", choices=BROKERS, default=BROKERS[0], help="p2c up --broker")
    parser.add_argument("--attribute", action="store_true", help="then the broker's cost of each client process")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="bench-idle-"))
    # the default session timeout (the tests shorten it, which makes every group heartbeat 3x as often)
    env = {"P2C_SESSION_TIMEOUT_MS": str(KafkaSettings().session_timeout_ms)}
    running = start_p2c_up(
        data_dir, "--broker", args.broker, *([] if args.seed else ["--no-seed"]), timeout=240, env=env
    )
    try:
        time.sleep(args.settle)
        root = running.process.pid
        assert root is not None
        before, started = cpu_by_name(root), time.monotonic()
        time.sleep(args.duration)
        per = cpu_share(before, cpu_by_name(root), time.monotonic() - started)
        broker = broker_share(per)
        attributed = broker_cost_by_client(root, args.duration, broker) if args.attribute else None
    finally:
        running.process.stop()
    total = sum(per.values())
    figures: dict[str, Any] = {
        "percent_of_a_core": round(total, 2),
        "per_process": per,  # highest first, as cpu_share gives it
        "broker_cost_by_client": attributed,
        "duration_s": args.duration,
        "cores": os.cpu_count(),
        "load": [round(x, 2) for x in os.getloadavg()],
        "data_dir": str(data_dir),
    }
    if args.json:
        print(json.dumps(figures))
        return
    for name, pct in figures["per_process"].items():
        print(f"{pct:6.2f} %  {name}")
    print(f"idle p2c up: {total:.2f} % of one core over {args.duration:.0f} s (target < 5 %)")
    if attributed is not None:
        print(f"the broker's {broker:.2f} %, by the process it answers (its CPU less while that one was stopped):")
        for name, pct in attributed.items():
            print(f"{pct:6.2f} %  {name}")
    print(f"cores {figures['cores']}, load {figures['load']}; logs in {data_dir}/logs")


if __name__ == "__main__":
    main()
