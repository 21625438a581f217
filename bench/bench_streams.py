"""Streams benchmark: the stream stage's events/s for accounts, p2c against a naive Faust baseline in one run;
for contacts and quotes, p2c's alone.

    python bench/bench_streams.py [--flow accounts|contacts|quotes] [--events 20000] [--workers 1]
                                  [--no-baseline] [--probe] [--json]
                                  [--bootstrap-servers H:P --schema-registry-url URL]

Without addresses it starts the embedded broker and the registry on free ports. It registers the schemas, then
for ``--flow accounts`` (the default) produces ``--events`` account creates and:

* starts ``p2c streams worker`` process(es) and measures the stage's rate: the writes of this run on
  ``p2c.tgt.erp.customers``, from the first one's timestamp to the last one's (start-up excluded);
* stops them and starts the naive baseline (``bench/naive_faust.py``: confluent's Avro serializers, the same
  pure mapping, one send per event) on the same events, measured the same way, and prints the ratio;
* the pure per-event cost (decode, map, encode) in-process, for comparison.

The joining flows need what they join on first. ``--flow contacts``: an account per four contacts is produced
and written before ``--events`` contact persons of them are produced (encoded beforehand, so the bench costs the
worker no CPU meanwhile); the rate is that of their writes on ``p2c.tgt.erp.contactpersons`` (each a subscription
to its account and an answer through the join's topics). ``--flow quotes``: an account per ten quotes and 100
products, then ``--events`` / 6 quotes of 5 lines each (a header and 5 line events); a quote counts once its
quotation on ``p2c.tgt.erp.quotations`` has its 5 lines, and the rate is in change events (headers and lines).
For both, the rate counts from the moment their events are produced (their first writes wait for answers).
The naive baseline and the probe map accounts only.

Each figure is printed with the machine's core count and load average: on a shared machine the absolute
figures move with the load, the ratio much less.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

from p2c import flows, schemas
from p2c.admin import ensure_topics
from p2c.broker import EmbeddedBroker
from p2c.offsets import end_offsets
from p2c.process import ManagedProcess, free_port, http_ok, p2c_command
from p2c.serde import Codecs
from p2c.settings import KafkaSettings
from p2c.streams import loader, samples
from p2c.streams.flow import MappingFlow
from p2c.streams.settings import APP_ID
from p2c.topics import (
    CRM_ACCOUNTS,
    CRM_CONTACTS,
    CRM_PRODUCTS,
    CRM_QUOTEDETAILS,
    CRM_QUOTES,
    ERP_CONTACTPERSONS,
    ERP_CUSTOMERS,
    ERP_QUOTATIONS,
    QUOTE_LINE_INDEX,
    Topic,
    entity_of,
)

os.environ.setdefault("P2C_SESSION_TIMEOUT_MS", "2000")
APP_PREFIX = f"{APP_ID}-"  # the streams app's own topics (changelogs, join messages) start with it
LINES_PER_QUOTE = 5

#: a target write's decoded value -> whether its key is done (None: every write counts)
Complete = Callable[[dict[str, Any]], bool] | None


@dataclass
class Changes:
    """Change events encoded ahead, by topic, in the order they are produced."""

    codecs: Codecs
    tag: str
    events: list[tuple[str, bytes, bytes]] = field(default_factory=list)

    def add(self, topic: Topic, row: dict[str, Any]) -> dict[str, Any]:
        entity = entity_of(topic)
        value = self.codecs[topic.name].serialize(samples.change("c", row, len(self.events) + 1, entity=entity))
        self.events.append((topic.name, samples.event_key(entity, row), value))
        return row

    def accounts(self, count: int) -> list[dict[str, Any]]:
        return [
            self.add(
                CRM_ACCOUNTS,
                samples.account_row(i, accountid=str(uuid.uuid4()), accountnumber=f"ACC-{i:06d}-{self.tag}"),
            )
            for i in range(count)
        ]

    def produce(self, kafka: KafkaSettings) -> None:
        producer = Producer(kafka.producer(**{"linger.ms": 20}))
        for topic, key, value in self.events:
            while True:
                try:
                    producer.produce(topic, key=key, value=value)
                    break
                except BufferError:  # librdkafka's queue (100,000 messages) is full: let it drain
                    producer.poll(0.1)
            producer.poll(0)
        producer.flush(30)


def write_span(
    kafka: KafkaSettings,
    topic: str,
    count: int,
    tag: str,
    timeout: float,
    complete: Complete = None,
    codecs: Codecs | None = None,
) -> tuple[float, float]:
    """(first, last) CreateTime in s of the ``count`` writes of this run on ``topic``: the stage's steady rate,
    measured the same way for p2c and the baseline, start-up excluded. With ``complete``, ``count`` keys are
    waited for, each until a write of it is complete, and ``last`` is the time of the last such write."""
    consumer = Consumer(kafka.consumer(f"bench-{uuid.uuid4()}"))
    consumer.subscribe([topic])
    suffix, seen, done, first, last = f"-{tag}".encode(), 0, set(), float("inf"), 0.0
    deadline = time.monotonic() + timeout
    try:
        while (len(done) if complete else seen) < count:
            if time.monotonic() > deadline:
                raise SystemExit(f"only {max(seen, len(done))} of {count} writes on {topic} after {timeout:.0f} s")
            for m in consumer.consume(1000, 0.2):
                key = m.key() or b""
                if m.error() or not key.endswith(suffix):
                    continue
                stamp = m.timestamp()[1] / 1000
                first = min(first, stamp)
                if complete is None:
                    seen += 1
                    last = max(last, stamp)
                elif key not in done and codecs is not None and complete(codecs[topic].deserialize(m.value())):
                    done.add(key)
                    last = max(last, stamp)
        return first, last
    finally:
        consumer.close()


@dataclass
class Workload:
    """One flow's run: what it joins on (produced and written before the measure), what it measures."""

    ahead: Changes  #: produced first: accounts (and products) to join on
    ahead_writes: int  #: the customers the worker must have written of them before the measure
    measured: Changes  #: produced once ``ahead`` is written; their writes are the stage's rate
    target: Topic
    events: int  #: change events in ``measured`` (a quote is a header and its lines)
    writes: int  #: target keys to wait for
    complete: Complete = None

    @property
    def codecs(self) -> Codecs:
        return self.measured.codecs


def workload(flow: str, events: int, codecs: Codecs) -> Workload:
    ahead, measured = Changes(codecs, uuid.uuid4().hex[:8]), Changes(codecs, uuid.uuid4().hex[:8])
    if flow == "accounts":
        measured.accounts(events)
        return Workload(ahead, 0, measured, ERP_CUSTOMERS, events, events)
    if flow == "contacts":
        parents = ahead.accounts(max(1, events // 4))
        for i in range(events):
            parent = parents[i % len(parents)]["accountid"]
            person = samples.contact_row(
                f"CON-{i:06d}-{measured.tag}",
                msdynce_isactivecustomer=False,
                _parentcustomerid_value=parent,
                parentcustomerid_type="account",
            )
            measured.add(CRM_CONTACTS, person)
        return Workload(ahead, len(parents), measured, ERP_CONTACTPERSONS, events, events)
    quotes = max(1, events // (1 + LINES_PER_QUOTE))
    products = [ahead.add(CRM_PRODUCTS, samples.product_row(f"P-{i:03d}-{ahead.tag}")) for i in range(100)]
    customers = ahead.accounts(max(1, quotes // 10))
    for i in range(quotes):
        quote = measured.add(
            CRM_QUOTES, samples.quote_row(f"QUO-{i:06d}-{measured.tag}", customers[i % len(customers)])
        )
        for seq in range(1, LINES_PER_QUOTE + 1):
            measured.add(CRM_QUOTEDETAILS, samples.line_row(quote, seq, products[(i + seq) % len(products)]))

    def whole(value: dict[str, Any]) -> bool:
        return value["op"] == "UPSERT" and len(value["record"]["lines"]) == LINES_PER_QUOTE

    return Workload(ahead, len(customers), measured, ERP_QUOTATIONS, quotes * (1 + LINES_PER_QUOTE), quotes, whole)


def conditions() -> dict[str, Any]:
    """What the figures were taken on: a shared 2-core machine makes absolute figures move with the load."""
    return {"cores": os.cpu_count(), "load": [round(x, 2) for x in os.getloadavg()]}


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of a process so far (Linux /proc): what it cost, whatever the machine's load."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def spawn(name: str, argv: list[str], log_path: Path, ready: str, stack: ExitStack) -> ManagedProcess:
    process = ManagedProcess(
        name, argv, ready=lambda: log_path.exists() and ready in log_path.read_text(), log_path=log_path
    )
    process.start(timeout=90)
    stack.callback(process.stop)
    return process


def pure_cost(codecs: Codecs, count: int = 3000) -> float:
    """Microseconds per event for decode + map + encode, in-process."""
    src, tgt = codecs[CRM_ACCOUNTS.name], codecs[ERP_CUSTOMERS.name]
    flow = MappingFlow(loader.load("accounts"))
    values = [src.serialize(samples.change("c", samples.account_row(i), i)) for i in range(count)]
    started = time.perf_counter()
    for value in values:
        for write in flow.handle(src.deserialize(value), None).writes:
            tgt.serialize(write.value)
    return (time.perf_counter() - started) / count * 1e6


def app_topics(kafka: KafkaSettings) -> list[str]:
    """The streams app's own topics (its tables' changelogs, its join messages), named with its app id."""
    return sorted(t for t in AdminClient(kafka.librdkafka()).list_topics(timeout=10).topics if t.startswith(APP_PREFIX))


def read_topics(kafka: KafkaSettings) -> list[str]:
    """Every topic the streams app's consumer group reads: the flows' change topics, its join messages, the
    quote line index (not its changelogs: those are read at recovery only)."""
    joins = [t for t in app_topics(kafka) if not t.endswith("-changelog")]
    return [t.name for t in flows.SOURCE_TOPICS] + joins + [QUOTE_LINE_INDEX.name]


def settled_at(kafka: KafkaSettings, timeout: float = 600.0) -> float:
    """The time (s) at which the streams group had committed every record of every topic it reads: the work
    behind the target writes done too (join subscriptions, the line index). Commits come every second or so,
    so this is up to a commit interval late."""
    consumer = Consumer(kafka.librdkafka() | {"group.id": APP_ID, "enable.auto.commit": False})
    deadline = time.monotonic() + timeout
    try:
        ends = {tp: end for tp, end in end_offsets(kafka, read_topics(kafka)).items() if end > 0}
        wanted = [TopicPartition(topic, partition) for topic, partition in ends]
        while time.monotonic() < deadline:
            committed = consumer.committed(wanted, timeout=10)
            if all(tp.offset >= ends[(tp.topic, tp.partition)] for tp in committed):
                return time.time()
            time.sleep(0.2)
        raise SystemExit(f"the streams group had not committed every record after {timeout:.0f} s")
    finally:
        consumer.close()


def internal_records(kafka: KafkaSettings) -> dict[str, int]:
    """Records in each topic of the streams app's own (its tables' changelogs, its join messages), by the
    topic's name without the app id: what the worker wrote besides the target writes, ahead workload included."""
    counts: dict[str, int] = {}
    for (topic, _partition), end in end_offsets(kafka, app_topics(kafka)).items():
        name = topic.removeprefix(APP_PREFIX)
        counts[name] = counts.get(name, 0) + end
    return counts


def stage_rate(
    kafka: KafkaSettings,
    topic: str,
    events: int,
    tag: str,
    pids: list[int | None],
    work: Workload | None = None,
    since: tuple[float, float] | None = None,
) -> tuple[int, int]:
    """(events/s from the first write to the last, events per CPU second of the worker processes).

    ``work``: the target keys to wait for and when one is complete (default: ``events`` writes). ``since``:
    (time in s, the workers' CPU seconds) to count from instead of the first write: a joining flow's first
    write may come well after its first events (they wait for answers)."""
    cpu = sum(cpu_seconds(pid) for pid in pids) if since is None else since[1]
    writes, complete, codecs = (events, None, None) if work is None else (work.writes, work.complete, work.codecs)
    first, last = write_span(kafka, topic, writes, tag, timeout=600, complete=complete, codecs=codecs)
    cpu = sum(cpu_seconds(pid) for pid in pids) - cpu
    return round((events - 1) / max(last - (first if since is None else since[0]), 1e-3)), round(
        events / max(cpu, 1e-3)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--flow", choices=("accounts", "contacts", "quotes"), default="accounts")
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--no-baseline", action="store_true", help="measure p2c alone")
    parser.add_argument("--probe", action="store_true", help="also measure bench/batch_probe.py (librdkafka)")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    parser.add_argument("--bootstrap-servers")
    parser.add_argument("--schema-registry-url")
    args = parser.parse_args()
    say = (lambda *a: None) if args.json else print
    logs = Path(tempfile.mkdtemp(prefix="bench-streams-"))
    figures: dict[str, Any] = {"flow": args.flow, "workers": args.workers, "before": conditions()}
    with ExitStack() as stack:
        bootstrap, registry_url = args.bootstrap_servers, args.schema_registry_url
        if not bootstrap:
            broker = stack.enter_context(EmbeddedBroker(port=free_port(), log_path=logs / "broker.log"))
            bootstrap = broker.bootstrap_servers
        if not registry_url:
            port = free_port()
            registry_url = f"http://127.0.0.1:{port}"
            registry = ManagedProcess(
                "registry",
                p2c_command("registry", "serve", "--port", str(port), "--bootstrap-servers", bootstrap),
                ready=http_ok(f"{registry_url}/subjects"),
                log_path=logs / "registry.log",
            )
            registry.start(timeout=30)
            stack.callback(registry.stop)
        client = stack.enter_context(SchemaRegistryClient({"url": registry_url}))
        for topic in (*flows.SOURCE_TOPICS, *flows.TARGET_TOPICS):
            client.register_schema(f"{topic.name}-value", Schema(schemas.text(topic.name), "AVRO"))
        kafka, codecs = KafkaSettings(bootstrap_servers=bootstrap), Codecs(client)
        work = workload(args.flow, args.events, codecs)
        tag = work.measured.tag
        figures["events"] = work.events

        started = time.monotonic()
        produced = work.ahead if args.flow != "accounts" else work.measured  # the joining flows' come later
        produced.produce(kafka)
        say(f"produced {len(produced.events)} changes in {time.monotonic() - started:.1f} s")

        registry_args = ["--bootstrap-servers", bootstrap, "--schema-registry-url", registry_url]
        with ExitStack() as workers:
            pids = []
            for n in range(args.workers):
                spawned = time.monotonic()
                log_path = logs / f"worker-{n}.log"
                argv = p2c_command("streams", "worker", *registry_args)
                pids.append(spawn(f"worker-{n}", argv, log_path, " ready: ", workers).pid)
                inner = re.search(r"ready: ([\d.]+) s after start", log_path.read_text())
                figures.setdefault("startup_s", []).append(round(time.monotonic() - spawned, 2))
                say(
                    f"worker {n}: consuming {time.monotonic() - spawned:.2f} s after spawn "
                    f"({inner.group(1) if inner else '?'} s from 'starting' to 'ready')"
                )
            since = None
            if work.ahead_writes:
                started = time.monotonic()
                write_span(kafka, ERP_CUSTOMERS.name, work.ahead_writes, work.ahead.tag, timeout=600)
                say(f"{work.ahead_writes} accounts to join on written in {time.monotonic() - started:.1f} s")
                since = (time.time(), sum(cpu_seconds(pid) for pid in pids))
                work.measured.produce(kafka)
            rate, per_cpu = stage_rate(kafka, work.target.name, work.events, tag, pids, work, since)
            figures["p2c_events_per_s"], figures["p2c_events_per_cpu_s"] = rate, per_cpu
            if since is not None:  # a joining flow: its subscriptions may still be handled after its writes
                settled = settled_at(kafka)
                cpu = sum(cpu_seconds(pid) for pid in pids) - since[1]
                figures["settled_events_per_s"] = round(work.events / max(settled - since[0], 1e-3))
                figures["settled_events_per_cpu_s"] = round(work.events / max(cpu, 1e-3))
        say(
            f"p2c, {args.flow}: {rate} events/s, {per_cpu} events per CPU second, {args.workers} worker(s)"
            f"  {conditions()}"
        )
        if "settled_events_per_s" in figures:
            say(
                f"p2c, {args.flow}, until every topic the worker reads was committed: "
                f"{figures['settled_events_per_s']} events/s, {figures['settled_events_per_cpu_s']} per CPU second"
            )
        figures["internal_records"] = internal_records(kafka)
        say(f"records in the workers' own topics (changelogs, join messages): {figures['internal_records']}")

        def compared(name: str, script: str, group_option: str) -> tuple[int, int]:
            """Events/s and events per CPU second of another stage doing the same work on the same events."""
            topic = f"bench.{name}.customers.{tag}"
            with ExitStack() as stack:
                argv = [sys.executable, str(Path(__file__).with_name(script)), *registry_args]
                argv += ["--target", topic, group_option, f"bench-{name}-{tag}"]
                ensure_topics(kafka, [Topic(topic)])
                pid = spawn(name, argv, logs / f"{name}.log", " ready: ", stack).pid
                return stage_rate(kafka, topic, work.events, tag, [pid])

        if not args.no_baseline and args.flow == "accounts":  # the baseline and the probe map accounts only
            naive_rate, naive_per_cpu = compared("naive", "naive_faust.py", "--app-id")
            figures["naive_events_per_s"], figures["naive_events_per_cpu_s"] = naive_rate, naive_per_cpu
            figures["ratio"] = round(rate / naive_rate, 2)
            figures["ratio_per_cpu"] = round(per_cpu / naive_per_cpu, 2)
            say(f"naive Faust baseline: {naive_rate} events/s, {naive_per_cpu} events per CPU second  {conditions()}")
            say(f"ratio p2c / naive: {figures['ratio']} in events/s, {figures['ratio_per_cpu']} per CPU second")
        if args.probe and args.flow == "accounts":
            probe_rate, probe_per_cpu = compared("probe", "batch_probe.py", "--group")
            figures["probe_events_per_s"], figures["probe_events_per_cpu_s"] = probe_rate, probe_per_cpu
            say(f"librdkafka batch probe: {probe_rate} events/s, {probe_per_cpu} events per CPU second  {conditions()}")
        if args.flow == "accounts":
            figures["pure_us_per_event"] = round(pure_cost(codecs), 1)
            say(f"pure decode+map+encode: {figures['pure_us_per_event']} us/event in-process")
        figures["after"], figures["logs"] = conditions(), str(logs)
        say(f"logs in {logs}")
        if args.json:
            print(json.dumps(figures))


if __name__ == "__main__":
    main()
