"""The joining flows (contacts, quotes) in real ``p2c streams worker`` processes, two of them side by side.

Two workers share every partition of the module: a record, its dependency and the answers between them
are often on different workers, so each test checks the multi-worker path. Every test uses fresh ids and
numbers, so tests (and other suites on the same broker) never see each other's records.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._config import ConfigResource
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

from p2c import schemas
from p2c.admin import wait_until_listed
from p2c.errors import RetriableError
from p2c.process import ManagedProcess, p2c_command
from p2c.serde import Codecs
from p2c.settings import KafkaSettings, RegistrySettings
from p2c.streams import samples, worker
from p2c.streams.settings import StreamsSettings
from p2c.topics import (
    CRM_ACCOUNTS,
    CRM_CONTACTS,
    CRM_PRODUCTS,
    CRM_QUOTEDETAILS,
    CRM_QUOTES,
    ERP_CONTACTPERSONS,
    ERP_CUSTOMERS,
    ERP_QUOTATIONS,
)
from tests.support.workers import start_at_the_end

TOPICS = (
    CRM_ACCOUNTS,
    CRM_CONTACTS,
    CRM_PRODUCTS,
    CRM_QUOTES,
    CRM_QUOTEDETAILS,
    ERP_CUSTOMERS,
    ERP_CONTACTPERSONS,
    ERP_QUOTATIONS,
)
Message = Any


@pytest.fixture(scope="module")
def codecs(registry_url: str) -> Iterator[Codecs]:
    with SchemaRegistryClient({"url": registry_url}) as client:
        for topic in TOPICS:
            client.register_schema(topic.subject, Schema(schemas.text(topic.name), "AVRO"))
        yield Codecs(client)


def log_has(path: Path, text: str) -> Callable[[], bool]:
    return lambda: path.exists() and text in path.read_text(errors="replace")


@pytest.fixture(scope="module")
def workers(kafka_bootstrap: str, registry_url: str, logs_dir: Path, codecs: Codecs) -> Iterator[list[ManagedProcess]]:
    argv = p2c_command(
        "streams", "worker", "--bootstrap-servers", kafka_bootstrap, "--schema-registry-url", registry_url
    )
    started = []
    # An app (consumer group, changelogs, join topics) of its own: nothing left by another test's workers.
    env = {"P2C_STREAMS_SUMMARY_INTERVAL_S": "2", "P2C_STREAMS_APP_ID": f"p2c-streams-joins-{uuid.uuid4().hex[:6]}"}
    start_at_the_end(kafka_bootstrap, env["P2C_STREAMS_APP_ID"])
    try:
        for name in ("joins-1", "joins-2"):
            log_path = logs_dir / f"{name}-{uuid.uuid4().hex[:6]}.log"
            worker = ManagedProcess(name, argv, ready=log_has(log_path, " ready: "), log_path=log_path, env=env)
            worker.start(timeout=60)
            started.append(worker)
        yield started
    finally:
        for worker in started:
            worker.stop()


class Pipe:
    """Produces change events and reads target writes."""

    def __init__(self, kafka: KafkaSettings, codecs: Codecs) -> None:
        self.kafka, self.codecs = kafka, codecs
        self.producer = Producer(kafka.producer())
        self.version = int(time.time() * 1000)

    def send(self, topic: str, op: str, row: dict[str, Any]) -> int:
        """One change event of ``row`` keyed like the source keys it; returns its version."""
        self.version += 1
        entity = topic.rsplit(".", 1)[1]
        value = self.codecs[topic].serialize(samples.change(op, row, self.version, entity=entity))
        self.producer.produce(topic, key=samples.event_key(entity, row), value=value)
        assert self.producer.flush(10) == 0
        return self.version

    def read(
        self, topic: str, keys: set[str], done: Callable[[list[dict[str, Any]]], bool], timeout: float = 20.0
    ) -> list[dict[str, Any]]:
        """Decoded writes of ``topic`` whose key is in ``keys`` (with their key), once ``done`` accepts them."""
        consumer = Consumer(self.kafka.consumer(f"test-joins-{uuid.uuid4()}"))
        consumer.subscribe([topic])
        kept: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        try:
            while not done(kept):
                if time.monotonic() > deadline:
                    raise AssertionError(f"{topic}: {len(kept)} matching writes after {timeout:.0f} s: {kept}")
                for m in consumer.consume(500, 0.1):
                    key, value = (m.key() or b"").decode(), m.value()
                    if not m.error() and key in keys and value is not None:
                        kept.append(
                            {"key": key, "ts": m.timestamp()[1] / 1000, **self.codecs[topic].deserialize(value)}
                        )
        finally:
            consumer.close()
        return kept


@pytest.fixture
def pipe(workers: list[ManagedProcess], kafka: KafkaSettings, codecs: Codecs) -> Pipe:
    return Pipe(kafka, codecs)


def test_a_worker_creates_its_internal_topics_before_it_joins_its_group(
    kafka: KafkaSettings, registry_url: str, tmp_path: Path
) -> None:
    """Faust creates them only just before it joins: a leader that did not see them yet left them out."""
    app_id = f"p2c-streams-prepare-{uuid.uuid4().hex[:6]}"
    settings = StreamsSettings(app_id=app_id, data_dir=tmp_path)
    worker.prepare(kafka, RegistrySettings(schema_registry_url=registry_url), settings)
    deps = ("accounts", "contacts", "products")
    expected = [f"{app_id}-{flow}-answers" for flow in ("contacts", "quotes")]
    expected += [f"{app_id}-join-{dep}-subscriptions" for dep in deps]
    tables = [f"{flow}-known-keys" for flow in ("accounts", "products")] + ["quotes-line-index"]
    tables += [f"{flow}-state" for flow in ("contacts", "quotes")]
    tables += [f"join-{dep}-{kind}" for dep in deps for kind in ("values", "subscribers")]
    changelogs = [f"{app_id}-{table}-changelog" for table in tables]
    expected += changelogs
    admin = AdminClient(kafka.librdkafka())
    partitions = len(admin.list_topics(CRM_ACCOUNTS.name, timeout=10).topics[CRM_ACCOUNTS.name].partitions)
    with contextlib.suppress(RetriableError):  # on a cluster, the broker asked may list a new topic a moment later
        wait_until_listed(admin, dict.fromkeys(expected, partitions), timeout=5)
    listed = admin.list_topics(timeout=10).topics
    internal = {name: len(meta.partitions) for name, meta in listed.items() if name.startswith(f"{app_id}-")}
    assert internal == dict.fromkeys(expected, partitions)
    assert cleanup_policies(admin, changelogs) == dict.fromkeys(changelogs, "compact")  # as Faust creates them


def cleanup_policies(admin: AdminClient, topics: list[str], timeout: float = 5.0) -> dict[str, str]:
    """Each topic's ``cleanup.policy``. On a cluster, the broker asked may not know a topic another one just
    listed: UNKNOWN_TOPIC_OR_PART is asked again, for up to ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        described = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, name) for name in topics])
        try:
            return {r.name: f.result()["cleanup.policy"].value for r, f in described.items()}
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART or time.monotonic() > deadline:
                raise
        time.sleep(0.1)


def tag() -> str:
    return uuid.uuid4().hex[:6].upper()


def account(number: str) -> dict[str, Any]:
    return samples.account_row(
        0, accountid=str(uuid.uuid4()), accountnumber=number, address1_country="US", address2_country=None
    )


def last_per_key(writes: list[dict[str, Any]]) -> dict[str, str]:
    return {w["key"]: w["op"] for w in writes}


@pytest.mark.timeout(40)
def test_contacts_are_routed_joined_with_their_account_and_rerouted(pipe: Pipe) -> None:
    t = tag()
    acc = account(f"ACC-{t}")
    person = samples.contact_row(
        f"CON-1-{t}",
        msdynce_isactivecustomer=False,
        _parentcustomerid_value=acc["accountid"],
        parentcustomerid_type="account",
        gendercode=1,
    )
    customer = samples.contact_row(f"CON-2-{t}", msdynce_isactivecustomer=True)
    loner = samples.contact_row(f"CON-3-{t}", msdynce_isactivecustomer=False)  # no parent account: not synced
    for row in (person, customer, loner):
        pipe.send(CRM_CONTACTS.name, "c", row)
    # The customer goes at once; the contact person waits for its account.
    [cust] = pipe.read(ERP_CUSTOMERS.name, {f"usmf|CON-2-{t}"}, lambda ws: len(ws) >= 1)
    assert cust["record"]["PartyType"] == "Person" and cust["op"] == "UPSERT"
    sent = time.time()
    pipe.send(CRM_ACCOUNTS.name, "c", acc)
    person_key = f"usmf|CON-1-{t}"
    [cp] = pipe.read(ERP_CONTACTPERSONS.name, {person_key}, lambda ws: len(ws) >= 1)
    print(f"contact person written {cp['ts'] - sent:.3f} s after its account was sent")
    assert cp["ts"] - sent < 10.0  # a bound, not the target: bench/bench_latency.py measures latency
    assert cp["record"]["AssociatedContactNumber"] == f"ACC-{t}"
    assert cp["record"]["AssociatedContactType"] == "Customer" and cp["record"]["Gender"] == "Male"

    # It becomes an active customer: a person customer, and its contact person is deleted.
    pipe.send(CRM_CONTACTS.name, "u", {**person, "msdynce_isactivecustomer": True})
    pipe.read(ERP_CONTACTPERSONS.name, {person_key}, lambda ws: last_per_key(ws) == {person_key: "DELETE"})
    [moved] = pipe.read(ERP_CUSTOMERS.name, {person_key}, lambda ws: len(ws) >= 1)
    assert moved["op"] == "UPSERT" and moved["record"]["PersonFirstName"] == "Ada"

    # Deleted: the person customer is blocked (DELETE with OnHoldStatus All).
    pipe.send(CRM_CONTACTS.name, "d", {"contactid": person["contactid"]})
    gone = pipe.read(ERP_CUSTOMERS.name, {person_key}, lambda ws: last_per_key(ws) == {person_key: "DELETE"})
    assert gone[-1]["record"]["OnHoldStatus"] == "All"
    assert not pipe.read(ERP_CONTACTPERSONS.name, {f"usmf|CON-3-{t}"}, lambda ws: True, timeout=1)


def lines_of(write: dict[str, Any]) -> list[tuple[int, str, Decimal]]:
    return [
        (ln["LineCreationSequenceNumber"], ln["ProductNumber"], ln["RequestedSalesQuantity"])
        for ln in write["record"]["lines"]
    ]


@pytest.mark.timeout(40)
def test_a_quote_waits_for_its_account_and_products_then_goes_whole_and_follows_its_lines(pipe: Pipe) -> None:
    t = tag()
    acc, p1, p2 = account(f"ACC-Q-{t}"), samples.product_row(f"P1-{t}"), samples.product_row(f"P2-{t}")
    q = samples.quote_row(f"QUO-{t}", acc)
    l1, l2 = samples.line_row(q, 1, p1), samples.line_row(q, 2, p2, "3")
    pipe.send(CRM_QUOTES.name, "c", q)
    pipe.send(CRM_QUOTEDETAILS.name, "c", l1)
    pipe.send(CRM_QUOTEDETAILS.name, "c", l2)
    key = f"usmf|QUO-{t}"
    pipe.send(CRM_ACCOUNTS.name, "c", acc)
    pipe.send(CRM_PRODUCTS.name, "c", p1)
    sent = time.time()
    last = pipe.send(CRM_PRODUCTS.name, "c", p2)  # the last dependency
    [first] = pipe.read(ERP_QUOTATIONS.name, {key}, lambda ws: len(ws) >= 1)
    print(f"quotation written {first['ts'] - sent:.3f} s after its last dependency was sent")
    assert first["ts"] - sent < 10.0  # a bound, not the target: bench/bench_latency.py measures latency
    header = first["record"]["header"]
    assert first["op"] == "UPSERT" and first["origin"]["id"] == q["quoteid"] and first["origin"]["version"] == last
    assert header["RequestingCustomerAccountNumber"] == header["InvoiceCustomerAccountNumber"] == f"ACC-Q-{t}"
    assert header["DeliveryAddressCountryRegionISOCode"] == "US" and header["CurrencyCode"] == "USD"
    assert lines_of(first) == [(1, f"P1-{t}", Decimal("2")), (2, f"P2-{t}", Decimal("3"))]
    assert first["record"]["lines"][0]["SalesUnitSymbol"] == "ea"

    # A quantity change, a new line, a removed line: the quotation is re-emitted with all current lines, once
    # per batch of the agent that holds changes of it (issue 12: not once per line), so 1 to 3 more writes.
    pipe.send(CRM_QUOTEDETAILS.name, "u", {**l1, "quantity": Decimal("5.00000")})
    pipe.send(CRM_QUOTEDETAILS.name, "c", samples.line_row(q, 3, p1, "1"))
    pipe.send(CRM_QUOTEDETAILS.name, "d", {"quotedetailid": l2["quotedetailid"], "_quoteid_value": q["quoteid"]})
    final = [(1, f"P1-{t}", Decimal("5")), (3, f"P1-{t}", Decimal("1"))]
    writes = pipe.read(ERP_QUOTATIONS.name, {key}, lambda ws: bool(ws) and lines_of(ws[-1]) == final)
    versions = [w["origin"]["version"] for w in writes]
    assert 2 <= len(writes) <= 4 and versions == sorted(versions) and len(set(versions)) == len(versions)

    # Deleted: the quotation is deleted.
    pipe.send(CRM_QUOTES.name, "d", {"quoteid": q["quoteid"]})
    gone = pipe.read(ERP_QUOTATIONS.name, {key}, lambda ws: bool(ws) and ws[-1]["op"] == "DELETE")
    assert gone[-1]["record"]["header"]["SalesQuotationNumber"] == f"QUO-{t}"


@pytest.mark.timeout(40)
def test_a_quote_with_a_product_not_maintained_externally_is_skipped_until_it_is(pipe: Pipe) -> None:
    t = tag()
    acc, p = account(f"ACC-S-{t}"), samples.product_row(f"PS-{t}", external=False)
    q = samples.quote_row(f"QUS-{t}", acc)
    for topic, row in (
        (CRM_ACCOUNTS.name, acc),
        (CRM_PRODUCTS.name, p),
        (CRM_QUOTES.name, q),
        (CRM_QUOTEDETAILS.name, samples.line_row(q, 1, p)),
    ):
        pipe.send(topic, "c", row)
    key = f"usmf|QUS-{t}"
    time.sleep(1)  # the quote is examined (and skipped) before its product changes
    pipe.send(CRM_PRODUCTS.name, "u", {**p, "msdynce_ismaintainedexternally": True})
    [written] = pipe.read(ERP_QUOTATIONS.name, {key}, lambda ws: len(ws) >= 1)
    assert lines_of(written) == [(1, f"PS-{t}", Decimal("2"))]


@pytest.mark.timeout(40)
def test_a_line_deleted_while_the_source_was_down_reaches_its_quote(pipe: Pipe, kafka: KafkaSettings) -> None:
    """After a restart the source no longer knows a line deleted meanwhile: it keys the delete by the line's own
    id (``_load_parents``). The streams' line index sends it to its quote; a line never seen is dead-lettered."""
    t = tag()
    acc, p = account(f"ACC-O-{t}"), samples.product_row(f"PO-{t}")
    q = samples.quote_row(f"QUO-O-{t}", acc)
    l1, l2 = samples.line_row(q, 1, p), samples.line_row(q, 2, p, "4")
    for topic, row in ((CRM_ACCOUNTS.name, acc), (CRM_PRODUCTS.name, p), (CRM_QUOTES.name, q)):
        pipe.send(topic, "c", row)
    pipe.send(CRM_QUOTEDETAILS.name, "c", l1)
    pipe.send(CRM_QUOTEDETAILS.name, "c", l2)
    key = f"usmf|QUO-O-{t}"
    pipe.read(ERP_QUOTATIONS.name, {key}, lambda ws: bool(ws) and len(ws[-1]["record"]["lines"]) == 2)

    never_seen = str(uuid.uuid4())
    for line_id in (l2["quotedetailid"], never_seen):  # as the source sends a delete it cannot place
        pipe.version += 1
        orphan = samples.change("d", {"quotedetailid": line_id}, pipe.version, entity="quotedetails")
        pipe.producer.produce(
            CRM_QUOTEDETAILS.name, key=line_id.encode(), value=pipe.codecs[CRM_QUOTEDETAILS.name].serialize(orphan)
        )
    assert pipe.producer.flush(10) == 0
    writes = pipe.read(
        ERP_QUOTATIONS.name, {key}, lambda ws: bool(ws) and lines_of(ws[-1]) == [(1, f"PO-{t}", Decimal(2))]
    )
    assert writes[-1]["op"] == "UPSERT"

    dlq = Consumer(kafka.consumer(f"test-orphans-{uuid.uuid4()}"))
    dlq.subscribe(["p2c.dlq.quotes"])
    deadline, letters = time.monotonic() + 20, list[Any]()
    try:
        while not letters and time.monotonic() < deadline:
            letters = [m for m in dlq.consume(100, 0.2) if not m.error() and m.key() == never_seen.encode()]
    finally:
        dlq.close()
    assert letters, "the delete of a line never seen was not dead-lettered"
    headers = dict(letters[0].headers() or [])
    assert (
        headers["p2c.error.field"] == b"_quoteid_value"
        and b"never saw" in headers["__connect.errors.exception.message"]
    )
