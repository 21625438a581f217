"""What a fault test says when the ERP misses accounts: where each missing one stopped, and how far every
consumer group got, read from the cluster while it is still up (a loss and a stall look alike otherwise)."""

from __future__ import annotations

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from p2c import topics
from p2c.offsets import committed_offsets, end_offsets
from p2c.settings import KafkaSettings
from tests.support.load import load_customers
from tests.support.odata import ODataClient

#: the accounts path, in order: the CRM's changes, then the ERP's customers
PATH = (topics.CRM_ACCOUNTS.name, topics.ERP_CUSTOMERS.name)


def missing_accounts(e: ODataClient, total: int) -> list[str]:
    """The load's accounts the ERP lacks, or holds with an older name."""
    names = {r["CustomerAccount"]: r["OrganizationName"] for r in load_customers(e)}
    expected = {f"LOAD-{i:05d}": f"Load {i:05d}" + (" v2" if i % 10 == 0 else "") for i in range(total)}
    return sorted(a for a, name in expected.items() if names.get(a) != name)


def records_naming(kafka: KafkaSettings, topic: str, needles: list[str], timeout: float = 20.0) -> dict[str, list[str]]:
    """``{needle: ["partition@offset", ...]}``: the records of ``topic`` whose value holds each needle."""
    ends = end_offsets(kafka, [topic])
    found: dict[str, list[str]] = {n: [] for n in needles}
    consumer = Consumer(kafka.librdkafka() | {"group.id": "p2c-diagnosis", "enable.auto.commit": False})
    try:
        consumer.assign([TopicPartition(t, p, 0) for (t, p), end in ends.items() if end > 0])
        pending = {p for (_t, p), end in ends.items() if end > 0}
        while pending:
            message = consumer.poll(timeout)
            if message is None:
                break
            if message.error() is not None:
                continue
            value, partition, offset = message.value() or b"", message.partition() or 0, message.offset() or 0
            for needle in needles:
                if needle.encode() in value:
                    found[needle].append(f"{partition}@{offset}")
            if offset + 1 >= ends[(topic, partition)]:
                pending.discard(partition)
    finally:
        consumer.close()
    return found


def diagnosis(kafka: KafkaSettings, missing: list[str]) -> str:
    """Each group's committed offsets against the ends of the accounts path, and where the missing accounts are."""
    ends = end_offsets(kafka, list(PATH))
    lines = [f"missing or stale in the ERP: {missing[:10]}{' ...' if len(missing) > 10 else ''}"]
    admin = AdminClient(kafka.librdkafka())
    for group in sorted(g.group_id for g in admin.list_consumer_groups().result(10).valid):
        committed = committed_offsets(kafka, group, sorted(ends))
        behind = {f"{t}[{p}]": f"{c}/{ends[(t, p)]}" for (t, p), c in committed.items() if c >= 0 and c < ends[(t, p)]}
        if any(c >= 0 for c in committed.values()):
            lines.append(f"group {group}: " + (f"behind (committed/end) {behind}" if behind else "at the end"))
    for topic in PATH:
        lines.append(f"{topic} records naming them: {records_naming(kafka, topic, missing[:5])}")
    return "\n".join(lines)
