"""Streams benchmark: worker start-up time and accounts events/s, end to end through a real broker.

    python bench/bench_streams.py [--events 20000] [--workers 1] [--bootstrap-servers H:P --schema-registry-url URL]

Without addresses it starts the embedded broker and the registry on free ports. It registers the schemas,
produces ``--events`` account creates, then starts ``p2c streams worker`` processes and prints:

* start-up: from spawning the process to its ``ready`` log line (imports, topic checks, group join,
  table recovery), and from ``starting`` to ``ready`` (group join and recovery alone);
* throughput: events / (time of the last customer write - time the last worker got ready), counting the
  writes on ``p2c.tgt.erp.customers`` whose keys belong to this run;
* the pure per-event cost (decode, map, encode) in-process, for comparison.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

from confluent_kafka import Consumer, Producer
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

from p2c import schemas
from p2c.broker import EmbeddedBroker
from p2c.process import ManagedProcess, free_port, http_ok, p2c_command
from p2c.serde import Codecs
from p2c.settings import KafkaSettings
from p2c.streams import loader, samples
from p2c.streams.flow import MappingFlow
from p2c.topics import CRM_ACCOUNTS, ERP_CUSTOMERS

os.environ.setdefault("P2C_SESSION_TIMEOUT_MS", "2000")


def produce(kafka: KafkaSettings, codecs: Codecs, count: int, tag: str) -> None:
    producer = Producer(kafka.producer(**{"linger.ms": 20}))
    codec = codecs[CRM_ACCOUNTS.name]
    for i in range(count):
        row = samples.account_row(i, accountid=str(uuid.uuid4()), accountnumber=f"ACC-{i:06d}-{tag}")
        producer.produce(
            CRM_ACCOUNTS.name, key=row["accountid"].encode(), value=codec.serialize(samples.change("c", row, i))
        )
        producer.poll(0)
    producer.flush(30)


def wait_for_writes(kafka: KafkaSettings, count: int, tag: str, timeout: float) -> float:
    """Monotonic time at which the ``count``-th write of this run was read from the target topic."""
    consumer = Consumer(kafka.consumer(f"bench-{uuid.uuid4()}"))
    consumer.subscribe([ERP_CUSTOMERS.name])
    suffix, seen, deadline = f"-{tag}".encode(), 0, time.monotonic() + timeout
    try:
        while seen < count:
            if time.monotonic() > deadline:
                raise SystemExit(f"only {seen} of {count} writes after {timeout:.0f} s")
            seen += sum(1 for m in consumer.consume(1000, 0.2) if not m.error() and m.key().endswith(suffix))
        return time.monotonic()
    finally:
        consumer.close()


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--bootstrap-servers")
    parser.add_argument("--schema-registry-url")
    args = parser.parse_args()
    logs = Path(tempfile.mkdtemp(prefix="bench-streams-"))
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
        for topic in (CRM_ACCOUNTS.name, ERP_CUSTOMERS.name):
            client.register_schema(f"{topic}-value", Schema(schemas.text(topic), "AVRO"))
        kafka, codecs, tag = KafkaSettings(bootstrap_servers=bootstrap), Codecs(client), uuid.uuid4().hex[:8]

        started = time.monotonic()
        produce(kafka, codecs, args.events, tag)
        print(f"produced {args.events} account changes in {time.monotonic() - started:.1f} s")

        ready_at = 0.0
        for n in range(args.workers):
            log_path = logs / f"worker-{n}.log"
            worker = ManagedProcess(
                f"worker-{n}",
                p2c_command(
                    "streams", "worker", "--bootstrap-servers", bootstrap, "--schema-registry-url", registry_url
                ),
                ready=lambda p=log_path: p.exists() and " ready: " in p.read_text(),
                log_path=log_path,
            )
            spawned = time.monotonic()
            worker.start(timeout=60)
            ready_at = time.monotonic()
            stack.callback(worker.stop)
            inner = re.search(r"ready: ([\d.]+) s after start", log_path.read_text())
            print(
                f"worker {n}: consuming {ready_at - spawned:.2f} s after spawn "
                f"({inner.group(1) if inner else '?'} s from 'starting' to 'ready')"
            )
        done = wait_for_writes(kafka, args.events, tag, timeout=300)
        elapsed = done - ready_at
        print(
            f"throughput: {args.events} events in {elapsed:.2f} s = {args.events / elapsed:.0f} events/s "
            f"with {args.workers} worker(s)"
        )
        print(f"pure decode+map+encode: {pure_cost(codecs):.0f} us/event in-process; logs in {logs}")


if __name__ == "__main__":
    sys.exit(main())
