"""Real ``p2c streams worker`` processes against the session broker and schema registry.

Account change events go in (Avro, wire format) on ``p2c.src.crm.accounts``; customers come out on
``p2c.tgt.erp.customers``; what cannot be mapped lands on ``p2c.dlq.accounts``. Each test uses fresh account
ids and numbers, so tests (and other suites on the same broker) never see each other's records.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

from p2c import deadletter, schemas
from p2c.serde import Codecs
from p2c.settings import KafkaSettings
from p2c.streams import samples
from p2c.topics import CRM_ACCOUNTS, ERP_CUSTOMERS, dead_letter
from tests.support.gate import gate_to
from tests.support.workers import Workers, log_has

DLQ = dead_letter("accounts").name
Message = Any  # confluent_kafka.Message


@pytest.fixture(scope="module")
def codecs(registry_url: str) -> Iterator[Codecs]:
    with SchemaRegistryClient({"url": registry_url}) as client:
        for topic in (CRM_ACCOUNTS.name, ERP_CUSTOMERS.name):
            client.register_schema(f"{topic}-value", Schema(schemas.text(topic), "AVRO"))
        yield Codecs(client)


def new_accounts(count: int, **overrides: Any) -> list[dict[str, Any]]:
    tag = uuid.uuid4().hex[:8].upper()
    return [
        samples.account_row(i, accountid=str(uuid.uuid4()), accountnumber=f"ACC-{i:05d}-{tag}", **overrides)
        for i in range(count)
    ]


def produce(kafka: KafkaSettings, codecs: Codecs, changes: list[dict[str, Any]]) -> list[bytes]:
    """Send change events keyed by accountid; returns the encoded values in order."""
    producer = Producer(kafka.producer())
    codec = codecs[CRM_ACCOUNTS.name]
    values = []
    for change in changes:
        row = change["after"] or change["before"]
        value = codec.serialize(change)
        producer.produce(CRM_ACCOUNTS.name, key=row["accountid"].encode(), value=value)
        producer.poll(0)
        values.append(value)
    assert producer.flush(10) == 0
    return values


def read_until(
    kafka: KafkaSettings,
    topic: str,
    done: Callable[[list[Message]], bool],
    keep: Callable[[Message], bool],
    timeout: float = 30.0,
) -> list[Message]:
    """Messages of ``topic`` (from the start) that ``keep`` accepts, once ``done`` says there are enough."""
    consumer = Consumer(kafka.consumer(f"test-streams-{uuid.uuid4()}"))
    consumer.subscribe([topic])
    kept: list[Message] = []
    deadline = time.monotonic() + timeout
    try:
        while not done(kept):
            if time.monotonic() > deadline:
                raise AssertionError(f"only {len(kept)} matching records on {topic} after {timeout:.0f} s")
            batch = consumer.consume(500, 0.2)
            kept.extend(m for m in batch if not m.error() and keep(m))
    finally:
        consumer.close()
    return kept


def customers(
    kafka: KafkaSettings,
    codecs: Codecs,
    keys: set[str],
    done: Callable[[list[dict[str, Any]]], bool],
    timeout: float = 30.0,
) -> list[dict[str, Any]]:
    """Decoded customer writes whose key is in ``keys``, in topic order per partition."""
    codec = codecs[ERP_CUSTOMERS.name]
    decoded: dict[int, dict[str, Any]] = {}

    def value(message: Message) -> dict[str, Any]:
        if id(message) not in decoded:  # decoded once: setdefault would decode every kept record on every poll
            decoded[id(message)] = codec.deserialize(message.value())
        return decoded[id(message)]

    kept = read_until(
        kafka, ERP_CUSTOMERS.name, lambda ms: done([value(m) for m in ms]), lambda m: m.key().decode() in keys, timeout
    )
    return [value(m) for m in kept]


def key_of(row: dict[str, Any]) -> str:
    return f"usmf|{row['accountnumber']}"


def test_accounts_become_customers_and_bad_ones_are_dead_lettered(
    workers: Workers,
    kafka: KafkaSettings,
    codecs: Codecs,
) -> None:
    workers.start("streams")
    rows = new_accounts(4)
    rows[0] |= {"address1_country": "Deutschland", "address2_country": "United Kingdom", "name": "Fabrikam"}
    rows[1] |= {"address1_country": "Atlantis"}  # not a country: dead-lettered
    rows[2] |= {"accountnumber": None}  # no key: dead-lettered
    values = produce(kafka, codecs, [samples.change("c", r, 1) for r in rows])
    good = {key_of(rows[0]), key_of(rows[3])}

    written = customers(kafka, codecs, good, lambda ws: len(ws) >= 2)
    by_key = {f"{w['record']['dataAreaId']}|{w['record']['CustomerAccount']}": w for w in written}
    fabrikam = by_key[key_of(rows[0])]
    assert fabrikam["op"] == "UPSERT"
    expected = {
        "OrganizationName": "Fabrikam",
        "PartyType": "Organization",
        "CustomerGroupId": "10",
        "LanguageId": "en-us",
        "SalesCurrencyCode": "USD",
        "IsExternallyMaintained": "Yes",
        "DeliveryAddressCountryRegionISOCode": "DE",
        "InvoiceAddressCountryRegionISOCode": "GB",
    }
    assert expected.items() <= fabrikam["record"].items(), fabrikam["record"]
    assert fabrikam["origin"]["id"] == rows[0]["accountid"]
    assert by_key[key_of(rows[3])]["record"]["CreditLimit"] == rows[3]["creditlimit"]

    bad_ids = {rows[1]["accountid"].encode(), rows[2]["accountid"].encode()}
    letters = read_until(kafka, DLQ, lambda ms: len(ms) >= 2, lambda m: m.key() in bad_ids)
    parsed = {m.key(): deadletter.DeadLetter.from_message("accounts", m.key(), m.value(), m.headers()) for m in letters}
    atlantis = parsed[rows[1]["accountid"].encode()]
    assert atlantis.field == "address1_country" and "Atlantis" in atlantis.reason
    assert atlantis.value == values[1] and atlantis.origin_topic == CRM_ACCOUNTS.name
    assert parsed[rows[2]["accountid"].encode()].field == "accountnumber"


def test_a_deleted_account_blocks_its_customer(workers: Workers, kafka: KafkaSettings, codecs: Codecs) -> None:
    workers.start("streams")
    [row] = new_accounts(1)
    produce(kafka, codecs, [samples.change("c", row, 1), samples.change("d", {"accountid": row["accountid"]}, 2)])
    written = customers(kafka, codecs, {key_of(row)}, lambda ws: len(ws) >= 2)
    assert [w["op"] for w in written] == ["UPSERT", "DELETE"]
    assert written[1]["record"]["OnHoldStatus"] == "All"
    assert written[1]["record"]["CustomerAccount"] == row["accountnumber"]
    assert written[1]["origin"]["version"] == 2


def latest_per_key(written: list[dict[str, Any]]) -> dict[str, int]:
    return {w["record"]["CustomerAccount"]: w["origin"]["version"] for w in written}


@pytest.mark.slow
def test_killed_worker_restarts_and_every_change_has_an_output(
    workers: Workers,
    kafka: KafkaSettings,
    codecs: Codecs,
) -> None:
    rows = new_accounts(3000)
    changes = [samples.change("c", r, 1) for r in rows] + [samples.change("u", r, 2) for r in rows]
    first = workers.start("streams-a")
    produce(kafka, codecs, changes)
    numbers = {r["accountnumber"] for r in rows}
    keys = {key_of(r) for r in rows}
    # Let it get part of the way, then kill it without a goodbye.
    customers(kafka, codecs, keys, lambda ws: len(ws) >= 1500)
    first.kill()
    workers.start("streams-b")

    def complete(ws: list[dict[str, Any]]) -> bool:
        latest = latest_per_key(ws)
        return latest.keys() == numbers and set(latest.values()) == {2}

    written = customers(kafka, codecs, keys, complete, timeout=60)
    assert len(written) >= len(changes)  # at-least-once: duplicates allowed, nothing missing
    assert set(latest_per_key(written).values()) == {2}  # the latest version of every account came last


def consuming(log_path: Path) -> int:
    """How many partitions the worker said it consumes in its last ``ready`` line."""
    found = re.findall(r" ready: .*?consuming (\d+) partitions", log_path.read_text(errors="replace"))
    return int(found[-1]) if found else -1


@pytest.mark.slow
def test_two_workers_share_the_partitions_and_write_every_customer(
    workers: Workers,
    kafka: KafkaSettings,
    codecs: Codecs,
) -> None:
    one = workers.start("streams-1")
    assert one.log_path is not None
    alone = consuming(one.log_path)  # every partition of every default flow's change topics
    two = workers.start("streams-2")
    # The first worker rebalances when the second joins: both end up with half of the partitions.
    assert two.log_path is not None
    deadline = time.monotonic() + 20
    while not consuming(one.log_path) == consuming(two.log_path) == alone // 2:
        assert time.monotonic() < deadline, f"the two workers did not split the {alone} partitions"
        time.sleep(0.2)
    rows = new_accounts(400)
    produce(kafka, codecs, [samples.change("c", r, 1) for r in rows])
    written = customers(kafka, codecs, {key_of(r) for r in rows}, lambda ws: len(ws) >= len(rows))
    assert {w["record"]["CustomerAccount"] for w in written} == {r["accountnumber"] for r in rows}
    assert all(w["record"]["PartyType"] == "Organization" for w in written)


@pytest.mark.slow
def test_a_rebalance_does_not_wait_for_a_record_being_retried(
    kafka_bootstrap: str,
    registry_url: str,
    logs_dir: Path,
    kafka: KafkaSettings,
    codecs: Codecs,
) -> None:
    """A record retried while the registry is down must not hold a rebalance for the retry budget (300 s).

    Faust's rebalance waits until every record handed to an agent is done; the worker's partitions, and those
    of every worker joining, stood still meanwhile, and the record was then dead-lettered for a registry that
    had long come back. It is given back instead, and the partition's next owner reads it again.
    """
    with gate_to(registry_url) as registry:
        pool = Workers(kafka_bootstrap, registry.url, logs_dir)
        try:
            one = pool.start("streams-retrying")
            assert one.log_path is not None
            alone = consuming(one.log_path)
            [row] = new_accounts(1)
            produce(kafka, codecs, [samples.change("c", row, 1)])
            wait_for(log_has(one.log_path, "retrying in"), 30, "the worker never retried the account")
            started = time.monotonic()
            two = pool.start("streams-joining")
            assert two.log_path is not None
            while not consuming(one.log_path) == consuming(two.log_path) == alone // 2:
                assert time.monotonic() - started < 30, "the rebalance waited for the record being retried"
                time.sleep(0.2)
            registry.open()
            [written] = customers(kafka, codecs, {key_of(row)}, lambda ws: len(ws) >= 1)
            assert written["record"]["CustomerAccount"] == row["accountnumber"]
            logs = one.log_path.read_text(errors="replace") + two.log_path.read_text(errors="replace")
            assert "given back undone" in logs
            assert ": dead-lettered " not in logs
        finally:
            pool.stop_all()


def wait_for(condition: Callable[[], bool], timeout: float, failure: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, failure
        time.sleep(0.2)


@pytest.mark.slow
def test_a_worker_stopped_while_it_retries_a_record_stops_and_the_record_is_read_again(
    kafka_bootstrap: str,
    registry_url: str,
    logs_dir: Path,
    kafka: KafkaSettings,
    codecs: Codecs,
) -> None:
    """Faust's stop waits for the records handed to agents, as a rebalance does; the retry budget is 300 s."""
    with gate_to(registry_url) as registry:
        pool = Workers(kafka_bootstrap, registry.url, logs_dir)
        try:
            one = pool.start("streams-stopped")
            assert one.log_path is not None
            [row] = new_accounts(1)
            produce(kafka, codecs, [samples.change("c", row, 1)])
            wait_for(log_has(one.log_path, "retrying in"), 30, "the worker never retried the account")
            started = time.monotonic()
            one.stop(timeout=30)
            assert time.monotonic() - started < 10, "stopping waited for the record being retried"
            assert one.returncode() == 0
            registry.open()
            pool.start("streams-after")
            [written] = customers(kafka, codecs, {key_of(row)}, lambda ws: len(ws) >= 1)
            assert written["record"]["CustomerAccount"] == row["accountnumber"]
        finally:
            pool.stop_all()
