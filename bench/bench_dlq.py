"""How long the dead letters take to list, empty and full, on the embedded broker.

    python bench/bench_dlq.py [--letters 1000] [--keys 200]

Starts a broker on a free port, then times:

    empty        DeadLetters.entries() with every dead-letter topic empty, and `p2c dlq list --json` (a process)
    full         the same with LETTERS letters of the accounts flow over KEYS keys (several versions per key),
                 half of them retried, the stage's group committed past the retries (so the resolved check reads
                 the origin partition)
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from confluent_kafka import Consumer, Producer, TopicPartition

from p2c.admin import ensure_topics
from p2c.broker import EmbeddedBroker
from p2c.control.deadletters import DeadLetters
from p2c.deadletter import DeadLetter
from p2c.errors import RecordError
from p2c.flows import DEAD_LETTER_TOPICS, STREAMS_GROUP
from p2c.process import free_port, p2c_command
from p2c.settings import KafkaSettings
from p2c.topics import Topic


def timed(what: str, func: object, *args: object) -> object:
    started = time.perf_counter()
    result = func(*args)  # type: ignore[operator]
    print(f"{what:<44} {time.perf_counter() - started:7.3f} s")
    return result


def cli(bootstrap: str) -> None:
    subprocess.run(
        p2c_command("dlq", "list", "--json", "--bootstrap-servers", bootstrap), check=True, capture_output=True
    )


def fill(kafka: KafkaSettings, letters: int, keys: int) -> Topic:
    origin = Topic(f"bench-origin-{uuid.uuid4().hex[:6]}", partitions=1)
    ensure_topics(kafka, [origin])
    producer = Producer(kafka.producer())
    offsets: list[int] = []
    for i in range(letters):
        producer.produce(
            origin.name, key=f"ACC-{i % keys}".encode(), value=b"v", on_delivery=lambda e, m: offsets.append(m.offset())
        )
    producer.flush(30)
    for i, offset in enumerate(sorted(offsets)):
        key = f"ACC-{i % keys}".encode()
        error = RecordError("unknown country", record_key=key.decode(), field="address1_country")
        letter = DeadLetter.from_error(
            error, flow="accounts", stage="streams", key=key, value=b"v", topic=origin.name, partition=0, offset=offset
        )
        producer.produce(letter.topic, key=key, value=b"v", headers=letter.headers())
    producer.flush(30)
    return origin


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--letters", type=int, default=1000)
    parser.add_argument("--keys", type=int, default=200)
    args = parser.parse_args()
    log = Path(tempfile.mkdtemp()) / "broker.log"
    with EmbeddedBroker(port=free_port(), log_path=log) as broker:
        kafka = KafkaSettings(bootstrap_servers=broker.bootstrap_servers)
        ensure_topics(kafka, DEAD_LETTER_TOPICS)
        letters = DeadLetters(kafka)
        timed("empty: entries()", letters.entries)
        timed("empty: p2c dlq list --json (a process)", cli, broker.bootstrap_servers)
        origin = fill(kafka, args.letters, args.keys)
        entries = timed(f"full ({args.letters} letters): entries()", letters.entries)
        print(f"  {sum(e.retryable for e in entries)} retryable (the newest of each of {args.keys} keys)")
        results = timed("retry (newest open letter per key)", letters.retry)
        consumer = Consumer(kafka.librdkafka() | {"group.id": STREAMS_GROUP, "enable.auto.commit": False})
        consumer.commit(offsets=[TopicPartition(origin.name, 0, args.letters + len(results))], asynchronous=False)  # type: ignore[arg-type]
        consumer.close()
        entries = timed("full, retries processed: entries()", letters.entries)
        print(f"  {sum(e.state == 'resolved' for e in entries)} resolved")
        timed("full: p2c dlq list --json (a process)", cli, broker.bootstrap_servers)


if __name__ == "__main__":
    main()
