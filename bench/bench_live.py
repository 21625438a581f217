"""Live sync at a steady rate: CRM account writes until the ERP customer shows them, per stage, and whether lag
stays flat.

    python bench/bench_live.py [--rate 100 [--rate 300 ...]] [--duration 30] [--keys N] [--broker kafka] [--json]

Starts ``p2c up --no-seed`` (``--broker kafka``: on Apache Kafka) on free ports and a temporary data directory.
For each ``--rate`` in turn it makes that many changes a second in the CRM through its Web API for
``--duration`` seconds (a pool of threads keeps the pace), then waits for the rest to arrive. A change creates
an account with its own ``accountnumber``; with ``--keys N`` it renames one of N accounts created (and synced)
before the run, in turn, so the data stays the same size and what grows in memory is not the tenant (N at least
5 s worth of changes: a source sees only the last of two changes to one row between its polls). Each change
gives the account a name of its own, which is how the bench follows it to the ERP customer's
``OrganizationName``. Per change:

source   CRM write (its POST answered) -> its event on p2c.src.crm.accounts (the record's Kafka timestamp)
streams  -> its write on p2c.tgt.erp.customers (Kafka timestamp)
sink     -> the customer row in the ERP (seen by polling CustomersV3 every 0.2 s: up to ~0.3 s late)
total    CRM write -> ERP row

p50/p99 per stage; the backlog (changes written to the CRM and not yet in the ERP) sampled every second, and its
slope by least squares after the first third of the run (at most 10 s), in which it grows to rate x latency.
Flat: the backlog grows by less than 5 % of the rate a second (p2c keeps at least 95 % of the pace), and every
change arrived. The slope of the total latency over the run is printed too. The resident memory of every
process under ``p2c up`` is sampled every second as well: once warm, at the end, and whether each stayed within
20 % (the embedded broker, which holds every record in memory, is shown but not judged), and the CPU each used
while the load ran, with the bench's own (it shares the cores), in % of one core. With several rates,
the highest one that stayed flat. Printed with the core count and load average.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_END, Consumer, TopicPartition

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.procs import BROKER_PROCESSES, cpu_by_name, cpu_share, memory_by_name
from p2c.offsets import partitions
from p2c.serde import Codecs
from p2c.settings import KafkaSettings, RegistrySettings
from p2c.up import BROKERS
from tests.support.odata import ODataClient, crm, erp
from tests.support.up import Running, start_p2c_up

SOURCE, TARGET = "p2c.src.crm.accounts", "p2c.tgt.erp.customers"
MEMORY_FLAT_PCT = 20.0  # the bound on a process's memory growth over the run
WINDOW_S = 10  # the run is cut into windows of this many seconds of write time, to find slow spells
SLOW_WINDOW_P99_S = 1.5  # a window whose p99 is over the target is printed


class Taps(threading.Thread):
    """The Kafka timestamp at which each bench account's event reached the source and the target topic."""

    def __init__(self, up: Running, prefix: str) -> None:
        super().__init__(daemon=True)
        self.prefix, self.stop = prefix, threading.Event()
        self.seen: dict[str, dict[str, float]] = {SOURCE: {}, TARGET: {}}
        self.codecs = Codecs.from_settings(RegistrySettings(schema_registry_url=up.registry_url))
        kafka = KafkaSettings(bootstrap_servers=up.bootstrap)
        self.consumer = Consumer(kafka.librdkafka() | {"group.id": f"bench-live-{prefix}", "enable.auto.commit": False})
        tps = [TopicPartition(t, p, OFFSET_END) for t in (SOURCE, TARGET) for p in partitions(self.consumer, t)]
        self.consumer.assign(tps)

    def change(self, topic: str, data: bytes) -> str | None:
        """The bench change an event carries: the account's name, or None for another account's event."""
        value = self.codecs[topic].deserialize(data)
        row = value.get("after") if topic == SOURCE else value.get("record")
        found = (row or {}).get("name" if topic == SOURCE else "OrganizationName")
        return found if isinstance(found, str) and found.startswith(name_prefix(self.prefix)) else None

    def run(self) -> None:
        while not self.stop.is_set():
            for msg in self.consumer.consume(500, 0.2):
                topic, data = msg.topic(), msg.value()
                if msg.error() is None and topic and data and (change := self.change(topic, data)):
                    self.seen[topic].setdefault(change, msg.timestamp()[1] / 1000)
        self.consumer.close()


class CrmWriter:
    """The bench's changes to the CRM over ``http.client``, one kept-alive connection per thread: through httpx
    each write cost the bench ~1 ms of CPU, which at 500/s took half a core from the processes it measures."""

    def __init__(self, client: ODataClient) -> None:
        url = client.http.base_url
        self.host, self.port, self.path = url.host, url.port, url.path
        self.headers = dict(client.http.headers) | {"Content-Type": "application/json"}
        self.local = threading.local()

    def send(self, method: str, path: str, body: dict[str, Any]) -> None:
        """Raises ``OSError`` or ``http.client.HTTPException`` when the write fails or is refused."""
        conn = getattr(self.local, "conn", None) or http.client.HTTPConnection(self.host, self.port, timeout=30)
        self.local.conn = None
        conn.request(method, self.path + path, json.dumps(body), self.headers)
        response = conn.getresponse()
        answer = response.read()
        if response.status >= 400:
            conn.close()
            raise http.client.HTTPException(f"{method} {path}: {response.status} {answer[:300]!r}")
        self.local.conn = conn


def name_prefix(prefix: str) -> str:
    return f"Live {prefix}"


def account_name(prefix: str, i: int) -> str:
    """The name the bench gives an account at its ``i``-th write: what it follows the change by."""
    return f"{name_prefix(prefix)}{i:07d}"


def customers_of(prefix: str, select: str) -> dict[str, str]:
    """A CustomersV3 query for the customers of this run's accounts (their numbers start with ``prefix``)."""
    wanted = f"CustomerAccount ge '{prefix}' and CustomerAccount le '{prefix}~'"
    return {"cross-company": "true", "$filter": wanted, "$select": select}


def create_accounts(c: ODataClient, e: ODataClient, prefix: str, keys: int) -> list[str]:
    """Create ``keys`` accounts and wait until every one is a customer in the ERP; their ids."""
    print(f"creating {keys} accounts to change during the run", file=sys.stderr)
    with ThreadPoolExecutor(max_workers=16) as pool:
        created = pool.map(
            lambda i: c.post("accounts", {"name": account_name(prefix, i), "accountnumber": f"{prefix}{i:07d}"}),
            range(keys),
        )
        ids = [response.json()["accountid"] for response in created]
    deadline = time.time() + 300
    while (synced := len(e.get_all("CustomersV3", customers_of(prefix, "CustomerAccount")))) < keys:
        if time.time() > deadline:
            raise SystemExit(f"only {synced} of {keys} accounts reached the ERP in 300 s")
        time.sleep(1)
    print(f"{keys} accounts in the ERP", file=sys.stderr)
    return ids


def least_squares_slope(points: list[tuple[float, float]]) -> float:
    if len(points) < 2:
        return 0.0
    mx, my = statistics.fmean(p[0] for p in points), statistics.fmean(p[1] for p in points)
    var = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / var if var else 0.0


def percentiles(samples: list[float]) -> dict[str, float | None]:
    if not samples:
        return {"p50": None, "p99": None}
    ordered = sorted(samples)
    return {"p50": round(statistics.median(ordered), 3), "p99": round(ordered[int(0.99 * (len(ordered) - 1))], 3)}


def one_rate(up: Running, c: ODataClient, e: ODataClient, rate: float, duration: float, keys: int) -> dict[str, Any]:
    prefix = f"L{uuid.uuid4().hex[:5].upper()}"
    ids = create_accounts(c, e, prefix, keys) if keys else []
    taps = Taps(up, prefix)
    taps.start()
    written: dict[str, float] = {}  # change (the account's new name) -> when the CRM answered it
    in_erp: dict[str, float] = {}
    backlog: list[tuple[float, float]] = []
    memory: list[tuple[float, dict[str, float]]] = []  # (s into the run, resident MiB by process)
    root = up.process.pid
    assert root is not None

    failed: list[str] = []

    crm_writer = CrmWriter(c)

    def write(i: int) -> None:
        name = account_name(prefix, i)
        try:
            if ids:
                crm_writer.send("PATCH", f"accounts({ids[i % len(ids)]})", {"name": name})
            else:
                new = {"name": name, "accountnumber": f"{prefix}{i:07d}", "telephone1": "+1 555 0100"}
                crm_writer.send("POST", "accounts", new)
        except (OSError, http.client.HTTPException) as exc:
            failed.append(f"{name}: {exc}")
            return
        written[name] = time.time()

    polling = threading.Event()

    def arrivals() -> None:
        """Poll for the changes from the oldest not yet seen on: names grow with the change's number, so the
        ERP answers the backlog and what arrived since, not every customer of the run (at 500/s over 5,000
        keys, reading them all every 0.2 s cost more CPU than p2c's sink)."""
        oldest = keys  # the first change's number (0..keys-1 are the names the accounts were created with)
        while not polling.wait(0.2):
            query = customers_of(prefix, "OrganizationName")
            query["$filter"] += f" and OrganizationName ge '{account_name(prefix, oldest)}'"
            for row in e.get_all("CustomersV3", query):
                in_erp.setdefault(row["OrganizationName"], time.time())
            while account_name(prefix, oldest) in in_erp:
                oldest += 1

    poller = threading.Thread(target=arrivals, daemon=True)
    poller.start()
    total = int(rate * duration)
    cpu_before, bench_cpu_before = cpu_by_name(root), time.process_time()
    start = time.time()
    with ThreadPoolExecutor(max_workers=32) as pool:
        next_sample = start
        for i in range(total):
            time.sleep(max(0.0, start + i / rate - time.time()))
            pool.submit(write, keys + i if keys else i)
            if time.time() >= next_sample:
                backlog.append((time.time() - start, len(written) - len(in_erp)))
                memory.append((time.time() - start, memory_by_name(root)))
                next_sample += 1.0
        sent_s = time.time() - start
    cpu = cpu_share(cpu_before, cpu_by_name(root), sent_s)
    cpu["bench (CRM writes, taps, ERP polling)"] = round((time.process_time() - bench_cpu_before) / sent_s * 100, 1)
    deadline = time.time() + max(60.0, duration)
    while len(in_erp) < len(written) and time.time() < deadline:
        time.sleep(0.2)
    polling.set()
    poller.join()
    taps.stop.set()
    taps.join()
    src, tgt = taps.seen[SOURCE], taps.seen[TARGET]
    stages: dict[str, list[float]] = {"source": [], "streams": [], "sink": [], "total": []}
    by_window: dict[int, dict[str, list[float]]] = {}  # the same, per WINDOW_S of write time
    drift = []
    for change, at in written.items():
        window = by_window.setdefault(int((at - start) // WINDOW_S), {name: [] for name in stages})
        seen = {}
        if change in in_erp:
            seen["total"] = in_erp[change] - at
            drift.append((at - start, in_erp[change] - at))
        if change in src:
            seen["source"] = src[change] - at
            if change in tgt:
                seen["streams"] = tgt[change] - src[change]
                if change in in_erp:
                    seen["sink"] = in_erp[change] - tgt[change]
        for name, seconds in seen.items():
            stages[name].append(seconds)
            window[name].append(seconds)
    warm = min(10.0, duration / 3)  # the backlog first grows to rate x latency: not a trend
    slope = least_squares_slope([(t, n) for t, n in backlog if t >= warm])
    return {
        "rate": rate,
        "kind": f"renames of {keys} accounts" if keys else "account creates",
        "achieved_rate": round(len(written) / sent_s, 1),
        "changes": len(written),
        "failed_writes": len(failed),
        "first_failure": failed[0] if failed else None,
        "arrived": len(in_erp),
        "seconds": {name: percentiles(s) for name, s in stages.items()},
        "backlog_slope_per_s": round(slope, 1),
        "latency_slope_s_per_s": round(least_squares_slope(drift), 4),
        "flat": slope < 0.05 * rate and len(in_erp) == len(written) and len(written) >= 0.95 * total,
        "backlog": [(round(t, 1), n) for t, n in backlog],
        "windows": [
            {"from_s": i * WINDOW_S, **{name: percentiles(v)["p99"] for name, v in w.items()}}
            for i, w in sorted(by_window.items())
        ],
        "memory_mb": (grown := memory_growth([m for t, m in memory if t >= warm])),
        "cpu_pct_of_a_core": cpu,
        "memory_flat": not any(memory_grew(name, m) for name, m in grown.items()),
    }


def memory_growth(samples: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Per process: resident MiB once warm, at the end, the highest, and the growth in %. Flat: within 20 %."""
    if not samples:
        return {}
    first, last = samples[0], samples[-1]
    return {
        name: {
            "warm": round(mb, 1),
            "end": round(last.get(name, 0.0), 1),
            "max": round(max(s.get(name, 0.0) for s in samples), 1),
            "growth_pct": round((last.get(name, 0.0) - mb) / mb * 100, 1) if mb else 0.0,
        }
        for name, mb in sorted(first.items(), key=lambda kv: -kv[1])
    }


def memory_grew(name: str, m: dict[str, float]) -> bool:
    return broker_note(name) is None and abs(m["growth_pct"]) > MEMORY_FLAT_PCT


def broker_note(name: str) -> str | None:
    """Why a process is not judged, when it is the broker: the embedded one keeps every record it is sent in
    memory (it has no disk), so it grows with what is written, by design; Apache Kafka's JVM sizes its heap
    itself."""
    return next((note for prefix, note in BROKER_PROCESSES.items() if name.startswith(prefix)), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, action="append", help="changes/s; repeat for several [default: 100]")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load per rate")
    parser.add_argument("--broker", choices=BROKERS, default=BROKERS[0], help="p2c up --broker")
    parser.add_argument("--keys", type=int, default=0, help="rename N accounts in turn instead of creating them")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="bench-live-"))
    env = {"P2C_SESSION_TIMEOUT_MS": str(KafkaSettings().session_timeout_ms)}  # the default (tests shorten it)
    up = start_p2c_up(data_dir, "--broker", args.broker, "--no-seed", timeout=240, env=env)
    runs = []
    try:
        c, e = crm(up.crm_url), erp(up.erp_url)
        time.sleep(5)  # the first sync of the reference data
        for rate in args.rate or [100.0]:
            runs.append(one_rate(up, c, e, rate, args.duration, args.keys))
            print(f"{rate:.0f}/s done", file=sys.stderr)
    finally:
        up.process.stop()
    flat = [r["rate"] for r in runs if r["flat"]]
    figures = {
        "runs": runs,
        "highest_flat_rate": max(flat, default=None),
        "duration_s": args.duration,
        "broker": args.broker,
        "cores": os.cpu_count(),
        "load": [round(x, 2) for x in os.getloadavg()],
        "data_dir": str(data_dir),
    }
    if args.json:
        print(json.dumps(figures))
        return
    for r in runs:
        print(
            f"rate {r['rate']:.0f}/s of {r['kind']} (achieved {r['achieved_rate']}/s): "
            f"{r['arrived']}/{r['changes']} in the ERP; "
            f"backlog slope {r['backlog_slope_per_s']}/s, latency slope {r['latency_slope_s_per_s']} s/s: "
            f"{'FLAT' if r['flat'] else 'FALLS BEHIND'}"
        )
        for name, p in r["seconds"].items():
            print(f"  {name:<8} p50 {p['p50']} s  p99 {p['p99']} s")
        slow = [w for w in r["windows"] if (w["total"] or 0) > SLOW_WINDOW_P99_S]
        print(f"  windows of {WINDOW_S} s (by write time) with a total p99 over {SLOW_WINDOW_P99_S} s: {len(slow)}")
        for w in slow:
            print(
                f"    {w['from_s']:5d} s: p99 {w['total']} s (source {w['source']}, streams {w['streams']}, "
                f"sink {w['sink']})"
            )
        cpu = r["cpu_pct_of_a_core"]
        of = 100 * (os.cpu_count() or 1)
        print(f"  cpu      {sum(cpu.values()):.0f} % of a core while the load ran (of {of} %):")
        print("    " + ", ".join(f"{name} {pct}" for name, pct in cpu.items()))
        grown = [name for name, m in r["memory_mb"].items() if memory_grew(name, m)]
        print(f"  memory   {'GROWS: ' + ', '.join(grown) if grown else 'flat (every p2c process within 20 %)'}")
        for name, m in r["memory_mb"].items():
            judged = f" ({note})" if (note := broker_note(name)) else ""
            print(
                f"    {m['warm']:7.1f} -> {m['end']:7.1f} MiB (max {m['max']:.1f}, {m['growth_pct']:+.1f} %)  "
                f"{name}{judged}"
            )
    print(
        f"highest flat rate: {figures['highest_flat_rate']}; broker {args.broker}; "
        f"cores {figures['cores']}, load {figures['load']}"
    )


if __name__ == "__main__":
    main()
