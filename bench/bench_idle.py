"""Idle cost of ``p2c up``: the CPU its processes use when nothing changes, per process and in total.

    python bench/bench_idle.py [--settle 20] [--duration 30] [--seed] [--broker kafka] [--json]

Starts ``p2c up`` (the embedded broker or, with ``--broker kafka``, Apache Kafka; registry, sandboxes, sources,
streams, sinks, console) on free ports and a temporary data directory, waits for ``ready`` and ``--settle``
seconds more (the first sync), then reads the CPU time (user + system, /proc) of ``p2c up`` and every process
under it over ``--duration`` seconds. Target: under 5 % of one core in total. Printed with the machine's core
count and load average.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.procs import cpu_and_name, descendants
from p2c.settings import KafkaSettings

# the tests' way of starting `p2c up` as a user does
from p2c.up import BROKERS
from tests.support.up import start_p2c_up


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--settle", type=float, default=20.0)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--seed", action="store_true", help="seed the sandboxes (default: --no-seed)")
    parser.add_argument("--broker", choices=BROKERS, default=BROKERS[0], help="p2c up --broker")
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
        before = {pid: found for pid in descendants(root) if (found := cpu_and_name(pid))}
        started = time.monotonic()
        time.sleep(args.duration)
        elapsed = time.monotonic() - started
        after = {pid: found for pid in descendants(root) if (found := cpu_and_name(pid))}
    finally:
        running.process.stop()
    per: dict[str, float] = {}
    for pid, (cpu, name) in after.items():
        used = cpu - before.get(pid, (0.0, name))[0]
        per[name] = per.get(name, 0.0) + used / elapsed * 100
    total = sum(per.values())
    figures: dict[str, Any] = {
        "percent_of_a_core": round(total, 2),
        "per_process": {k: round(v, 2) for k, v in sorted(per.items(), key=lambda kv: -kv[1])},
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
    print(f"cores {figures['cores']}, load {figures['load']}; logs in {data_dir}/logs")


if __name__ == "__main__":
    main()
