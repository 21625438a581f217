"""``p2c dlq list|retry``: see what was dead-lettered and why, and send it back once the cause is fixed.

``retry`` re-produces each dead letter, key and original bytes, to the topic it was read from, with a
``p2c.retry.of`` header naming the dead letter. Progress is kept as the committed offset of the consumer
group ``p2c-dlq-retry-<flow>`` (committed without a group join), so a retry sends each dead letter once;
``--from-offset`` sends older ones again.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict

import click
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition

from p2c import logs, options
from p2c.deadletter import DeadLetter
from p2c.flows import NAMES
from p2c.offsets import partitions
from p2c.reachable import require_kafka
from p2c.settings import KafkaSettings, load
from p2c.topics import dead_letter

log = logging.getLogger("p2c.dlq")

RETRY_OF = "p2c.retry.of"


def retry_group(flow: str) -> str:
    return f"p2c-dlq-retry-{flow}"


def read(
    kafka: KafkaSettings,
    flow: str,
    start: dict[int, int] | None = None,
    default_start: int = OFFSET_BEGINNING,
    timeout: float = 10.0,
) -> list[tuple[int, int, DeadLetter]]:
    """Dead letters of ``flow`` as ``(partition, offset, letter)``, from ``start`` per partition, else from
    ``default_start``."""
    topic = dead_letter(flow).name
    consumer = Consumer(
        kafka.librdkafka() | {"group.id": retry_group(flow), "enable.auto.commit": False, "enable.partition.eof": True}
    )
    try:
        pending = set(partitions(consumer, topic, timeout))
        if not pending:
            return []
        consumer.assign([TopicPartition(topic, p, (start or {}).get(p, default_start)) for p in pending])
        letters = []
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            for msg in consumer.consume(500, timeout=0.2):
                partition, offset, error = msg.partition() or 0, msg.offset() or 0, msg.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        pending.discard(partition)
                    continue
                raw = msg.headers() or []
                pairs = raw.items() if isinstance(raw, dict) else raw
                headers = [(k, v if isinstance(v, bytes) else (v or "").encode()) for k, v in pairs]
                letters.append((partition, offset, DeadLetter.from_message(flow, msg.key(), msg.value(), headers)))
        return letters
    finally:
        consumer.close()


def committed_retries(kafka: KafkaSettings, flow: str) -> dict[int, int]:
    topic = dead_letter(flow).name
    consumer = Consumer(kafka.librdkafka() | {"group.id": retry_group(flow), "enable.auto.commit": False})
    try:
        tps = [TopicPartition(topic, p) for p in partitions(consumer, topic)]
        return {tp.partition: tp.offset for tp in consumer.committed(tps, timeout=10) if tp.offset >= 0}
    finally:
        consumer.close()


def retry(kafka: KafkaSettings, flow: str, from_offset: int | None = None) -> int:
    """Send the not-yet-retried dead letters of ``flow`` back to their origin topics; return how many."""
    topic = dead_letter(flow).name
    if from_offset is None:
        letters = read(kafka, flow, committed_retries(kafka, flow))
    else:
        letters = read(kafka, flow, default_start=from_offset)
    if not letters:
        return 0
    producer = Producer(kafka.producer())
    for partition, offset, letter in letters:
        headers: list[tuple[str, str | bytes | None]] = [(RETRY_OF, f"{topic}/{partition}/{offset}".encode())]
        producer.produce(letter.origin_topic, key=letter.key, value=letter.value, headers=headers)
    if producer.flush(30) != 0:
        raise click.ClickException("the broker did not acknowledge every retried record; run retry again")
    next_offsets: dict[int, int] = {}
    for partition, offset, _ in letters:
        next_offsets[partition] = max(next_offsets.get(partition, 0), offset + 1)
    consumer = Consumer(kafka.librdkafka() | {"group.id": retry_group(flow), "enable.auto.commit": False})
    try:
        consumer.commit(offsets=[TopicPartition(topic, p, o) for p, o in next_offsets.items()], asynchronous=False)
    finally:
        consumer.close()
    log.info("retried %d dead letters of %s", len(letters), flow)
    return len(letters)


@click.group(context_settings={"show_default": True})
def dlq() -> None:
    """List and retry dead-lettered records."""


@dlq.command(name="list")
@click.option("--flow", type=click.Choice(NAMES), multiple=True, help="Only these flows (default: all).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per dead letter.")
@options.bootstrap_servers
@options.config_file
def list_(flow: tuple[str, ...], as_json: bool, bootstrap_servers: str, config_file: str | None) -> None:
    """Every dead letter: flow, where it came from, when, and why."""
    logs.configure("WARNING")
    kafka = load(KafkaSettings, "kafka", config_file, bootstrap_servers=bootstrap_servers)
    require_kafka(kafka)
    rows = []
    for name in flow or NAMES:
        retried = committed_retries(kafka, name)
        for partition, offset, letter in read(kafka, name):
            done = offset < retried.get(partition, 0)
            if as_json:
                record = asdict(letter) | {"key": (letter.key or b"").decode(errors="replace"), "retried": done}
                record.pop("value")
                click.echo(json.dumps(record | {"partition": partition, "offset": offset}))
            else:
                rows.append(
                    (
                        name,
                        f"{partition}/{offset}",
                        (letter.key or b"").decode(errors="replace"),
                        letter.stage,
                        "yes" if done else "no",
                        letter.reason,
                    )
                )
    if not as_json:
        if not rows:
            click.echo("no dead letters")
            return
        header = ("flow", "at", "key", "stage", "retried", "reason")
        widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(5)]
        for row in [header, *rows]:
            click.echo("  ".join(str(c).ljust(w) for c, w in zip(row[:5], widths, strict=True)) + "  " + row[5])


@dlq.command(name="retry")
@click.option("--flow", type=click.Choice(NAMES), multiple=True, help="Only these flows (default: all).")
@click.option(
    "--from-offset",
    type=int,
    default=None,
    help="Send again every dead letter from this offset on, even ones retried before.",
)
@options.bootstrap_servers
@options.config_file
def retry_(flow: tuple[str, ...], from_offset: int | None, bootstrap_servers: str, config_file: str | None) -> None:
    """Send dead letters back to the topic they came from, once the cause is fixed."""
    logs.configure()
    kafka = load(KafkaSettings, "kafka", config_file, bootstrap_servers=bootstrap_servers)
    require_kafka(kafka)
    for name in flow or NAMES:
        count = retry(kafka, name, from_offset)
        click.echo(f"{name}: {count} dead letter(s) sent back")
