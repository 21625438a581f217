"""The bad-input catalogue: records the sources meet in the wild, each through the real component that meets it.

Every kind ends in a dead letter (or a rejected row, which the source runner dead-letters) that names the record
and the field, in a resync, or in a recorded truncation; never in a crash loop or a silent drop.

* the CRM source (``DataverseSource``) reads the CRM sandbox over real HTTP, through a small HTTP proxy of the
  test's own for what only something between p2c and the service produces (an HTML error page with status 200,
  a page cut short, a column whose values are numbers where the contract has text: a customised tenant);
* the streams' flows (the pure functions the agents run) map what the source read;
* the ERP sink runs as in ``p2c sink run erp`` (``SinkRunner`` + ``FinOpsSink``) on the embedded broker and the
  registry against the ERP sandbox, and the CRM products sink against the CRM sandbox.
"""

from __future__ import annotations

import http.server
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

from p2c import deadletter, flows, schemas, topics
from p2c.admin import ensure_topics
from p2c.connectors.base.sink import SinkRecord
from p2c.connectors.base.source import ChangeEvent, Checkpoint, Rejected, SourceItem
from p2c.connectors.core.sink_runner import SinkRunner
from p2c.connectors.core.versions import VersionStore
from p2c.connectors.dataverse.settings import CrmSinkSettings, CrmSourceSettings
from p2c.connectors.dataverse.sink import ProductSink
from p2c.connectors.dataverse.source import DataverseSource
from p2c.connectors.dataverse.streams import streams_for
from p2c.connectors.finops.settings import ErpSinkSettings
from p2c.connectors.finops.sink import FinOpsSink
from p2c.connectors.finops.targets import CUSTOMERS
from p2c.deadletter import DeadLetter
from p2c.errors import RecordError, RetriableError
from p2c.process import ManagedProcess, free_port, http_ok, p2c_command
from p2c.serde import Codecs
from p2c.settings import KafkaSettings
from p2c.streams import loader, samples
from p2c.streams.flow import MappingFlow
from tests.support.odata import ODataClient

pytestmark = [pytest.mark.timeout(90), pytest.mark.slow]

USER = ("user", "user-sandbox-secret")  # a person: the source reads their changes (it ignores its own)
TAG = uuid.uuid4().hex[:6].upper()


def sandbox(kind: str, tmp: Path, logs: Path, ready: str, *args: str) -> tuple[ManagedProcess, str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = ManagedProcess(
        kind,
        p2c_command("sandbox", kind, "--port", str(port), "--data-dir", str(tmp / kind), *args),
        ready=http_ok(url + ready),
        log_path=logs / f"bad-input-{kind}-{port}.log",
    )
    proc.start(timeout=30)
    return proc, url


@pytest.fixture(scope="module")
def crm_url(tmp_path_factory: pytest.TempPathFactory, logs_dir: Path) -> Iterator[str]:
    clients = ("--client", "p2c:p2c-sandbox-secret", "--client", f"{USER[0]}:{USER[1]}")
    proc, url = sandbox("crm", tmp_path_factory.mktemp("crm"), logs_dir, "/api/data/v9.2/$metadata", *clients)
    yield url
    proc.stop()


@pytest.fixture(scope="module")
def erp_url(tmp_path_factory: pytest.TempPathFactory, logs_dir: Path) -> Iterator[str]:
    proc, url = sandbox("erp", tmp_path_factory.mktemp("erp"), logs_dir, "/data/$metadata")
    yield url
    proc.stop()


# ---- a proxy between the source and the CRM: what a gateway or a customised tenant sends ----------------


@dataclass
class Proxy:
    """Forwards to the CRM; ``spoil`` (once) changes the next page of accounts it answers."""

    upstream: str
    spoil: Callable[[httpx.Response], tuple[int, str, bytes]] | None = None
    spoiled: list[str] = field(default_factory=list)

    def answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, str, bytes]:
        upstream = httpx.request(method, self.upstream + path, headers=headers, content=body, timeout=30)
        spoil = self.spoil
        if spoil is not None and method == "GET" and path.startswith("/api/data/v9.2/accounts?"):  # a page
            self.spoil = None
            self.spoiled.append(path)
            return spoil(upstream)
        return upstream.status_code, upstream.headers.get("content-type", ""), upstream.content


def serve(proxy: Proxy) -> http.server.ThreadingHTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        def _any(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            keep = ("authorization", "content-type", "prefer", "accept", "odata-version", "odata-maxversion")
            headers = {k: v for k, v in self.headers.items() if k.lower() in keep}
            status, kind, content = proxy.answer(self.command, self.path, headers, body)
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        do_GET = do_POST = do_PATCH = _any

        def log_message(self, *_args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def proxy(crm_url: str) -> Iterator[tuple[Proxy, str]]:
    p = Proxy(crm_url)
    server = serve(p)
    yield p, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


# ---- the CRM's rows, read by the source ----------------------------------------------------------------

LONG_NAME = ("Northwind " + "Very Long Trading Name " * 6).strip()  # 147 characters: the CRM takes 160, FinOps 100
ACCOUNTS = {
    "missing-number": {"name": f"No Number {TAG}"},
    "unknown-country": {"name": f"Atlantis {TAG}", "address1_country": "Atlantis"},
    "control-character": {"name": f"Bell\x07 {TAG}"},
    "emoji": {"name": f"Café ☕ 🚀 {TAG}"},
    "over-long": {"name": LONG_NAME},
    "number-for-text": {"name": f"Numbered {TAG}"},
}


def source(url: str, name: str) -> DataverseSource:
    settings = CrmSourceSettings(url=url, poll_interval=0.05, connector_name=name)
    return DataverseSource(settings.client(f"crm {name}"), streams_for(["accounts"]), name=name, poll_interval=0.05)


def full_load(src: DataverseSource, position: Any = None) -> tuple[list[SourceItem], Any]:
    """The items of one full load (or resync) of accounts, and the position after it."""
    items: list[SourceItem] = []
    changes = cast(Generator[SourceItem, None, None], src.changes(position))
    try:
        for item in changes:
            items.append(item)
            if isinstance(item, Checkpoint) and "full load of accounts finished" in item.note:
                return items, item.position
    finally:
        changes.close()
        src.close()
    raise AssertionError("the source stopped before its full load finished")


@dataclass
class Read:
    """What the source read of the CRM: events and rejected rows by account name, the position."""

    ids: dict[str, str]
    events: dict[str, ChangeEvent]
    rejected: dict[str, Rejected]
    position: Any
    spoiled: list[str]


@pytest.fixture(scope="module")
def read(crm_url: str, proxy: tuple[Proxy, str]) -> Read:
    crm = ODataClient(crm_url, "/api/data/v9.2/", USER)
    ids = {kind: crm.post("accounts", body).json()["accountid"] for kind, body in ACCOUNTS.items()}
    # an account number removed by a person (the column is optional in Dataverse)
    crm.patch(f"accounts({ids['missing-number']})", {"accountnumber": None}).raise_for_status()
    crm.http.close()
    p, url = proxy

    def number_for_text(upstream: httpx.Response) -> tuple[int, str, bytes]:
        doc = upstream.json()
        for row in doc["value"]:
            if row["accountid"] == ids["number-for-text"]:
                row["name"] = 12345  # the column holds numbers in this tenant; the contract says text
        return 200, upstream.headers["content-type"], json.dumps(doc).encode()

    p.spoil = number_for_text
    items, position = full_load(source(url, f"bad-input-{TAG}"))
    by_id = {v: k for k, v in ids.items()}
    events = {by_id[e.key]: e for e in items if isinstance(e, ChangeEvent) and e.key in by_id}
    rejected = {by_id[r.key]: r for r in items if isinstance(r, Rejected) and r.key in by_id}
    return Read(ids, events, rejected, position, list(p.spoiled))


ACCOUNTS_FLOW = MappingFlow(loader.load("accounts"))
PRODUCTS_FLOW = MappingFlow(loader.load("products"))


def letter(error: RecordError, flow: str, stage: str, key: str) -> dict[str, bytes]:
    """The dead letter an agent sends for ``error`` (its headers), as ``streams.handling`` builds it."""
    built = DeadLetter.from_error(
        error, flow=flow, stage=stage, key=key.encode(), value=b"{}", topic="t", partition=0, offset=0
    )
    return dict(built.headers())


def streams_letter(read: Read, kind: str) -> dict[str, bytes]:
    """The account of ``kind`` read by the source and mapped by the accounts flow: its dead letter."""
    event = read.events[kind]
    with pytest.raises(RecordError) as caught:
        ACCOUNTS_FLOW.handle(event.value, None, event.key)
    assert caught.value.record_key == read.ids[kind]
    return letter(caught.value, "accounts", "streams", event.key)


# ---- the ERP sink: as `p2c sink run erp`, on the broker, against the ERP sandbox ----------------------------


def customer_write(account: str, **fields: Any) -> dict[str, Any]:
    record = {
        "dataAreaId": "usmf",
        "CustomerAccount": account,
        "PartyType": "Organization",
        "OrganizationName": f"{account} Ltd",
        "CustomerGroupId": "10",
        "LanguageId": "en-us",
        "SalesCurrencyCode": "USD",
        **fields,
    }
    origin = {"system": "crm", "entity": "accounts", "id": account, "version": 1, "ts_ms": 0}
    return {"op": "UPSERT", "record": record, "origin": origin}


@dataclass
class Sunk:
    letters: dict[str, dict[str, bytes]]  # by record key: the dead letter's headers
    customers: dict[str, dict[str, Any]]  # what the ERP has, by account
    codec_errors: dict[str, Exception]  # the streams' decoder on the same bytes


SINK_KEYS = {kind: f"usmf|B{TAG}-{kind}".upper() for kind in ("rejected", "schema-id", "truncated", "tombstone")}


@pytest.fixture(scope="module")
def sunk(kafka_bootstrap: str, registry_url: str, erp_url: str, tmp_path_factory: pytest.TempPathFactory) -> Sunk:
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    ensure_topics(kafka, [topics.ERP_CUSTOMERS, *flows.DEAD_LETTER_TOPICS])
    topic = topics.ERP_CUSTOMERS.name
    with SchemaRegistryClient({"url": registry_url}) as client:
        client.register_schema(topics.ERP_CUSTOMERS.subject, Schema(schemas.text(topic), "AVRO"))
    codecs = Codecs(SchemaRegistryClient({"url": registry_url}))
    good = [f"B{TAG}-GOOD-{i}" for i in range(3)] + [f"B{TAG}-EMOJI"]
    encoded = {
        k: codecs[topic].serialize(customer_write(k.split("|")[1]), k)
        for k in (SINK_KEYS["truncated"], *(f"usmf|{g}" for g in good))
    }
    encoded[f"usmf|B{TAG}-EMOJI"] = codecs[topic].serialize(
        customer_write(f"B{TAG}-EMOJI", OrganizationName="Café ☕ 🚀 Ltd"), "k"
    )
    messages: list[tuple[str, bytes | None]] = [
        (f"usmf|{good[0]}", encoded[f"usmf|{good[0]}"]),
        (SINK_KEYS["rejected"], codecs[topic].serialize(customer_write(f"B{TAG}-REJECTED", CustomerGroupId="NO-SUCH"))),
        (SINK_KEYS["schema-id"], b"\x00" + (987_654).to_bytes(4, "big") + b"\x02\x06abc"),
        (f"usmf|{good[1]}", encoded[f"usmf|{good[1]}"]),
        (SINK_KEYS["truncated"], encoded[SINK_KEYS["truncated"]][:12]),
        (SINK_KEYS["tombstone"], None),
        (f"usmf|{good[2]}", encoded[f"usmf|{good[2]}"]),
        (f"usmf|B{TAG}-EMOJI", encoded[f"usmf|B{TAG}-EMOJI"]),
    ]
    codec_errors: dict[str, Exception] = {}
    for key, value in messages[2:5:2]:
        try:
            codecs[topic].deserialize(value or b"", key)
        except Exception as exc:  # what the streams' decoder (the same codec) makes of these bytes
            codec_errors[key] = exc
    producer = Producer(kafka.producer())
    for key, value in messages:
        producer.produce(topic, key=key.encode(), value=value)
    assert producer.flush(10) == 0

    settings = ErpSinkSettings(url=erp_url)
    state = tmp_path_factory.mktemp("sink-state")
    sink = FinOpsSink(settings.client("erp bad-input"), CUSTOMERS, VersionStore(state, CUSTOMERS.name))
    group = f"bad-input-{TAG}"
    consumer = Consumer(kafka.consumer(group) | {"auto.offset.reset": "earliest"})
    runner = SinkRunner(sink, consumer, Producer(kafka.producer()), codecs, batch_ms=100)
    thread = threading.Thread(target=runner.run, name="bad-input-sink")
    thread.start()
    erp = ODataClient(erp_url, "/data/", ("p2c", "p2c-sandbox-secret"))
    letters: dict[str, dict[str, bytes]] = {}
    customers: dict[str, dict[str, Any]] = {}
    try:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and (len(letters) < len(SINK_KEYS) or len(customers) < len(good)):
            time.sleep(0.3)
            letters = dead_letters(kafka, topics.dead_letter("accounts").name, set(SINK_KEYS.values()))
            rows = erp.get_all(
                "CustomersV3", {"cross-company": "true", "$filter": f"startswith(CustomerAccount,'B{TAG}')"}
            )
            customers = {r["CustomerAccount"]: r for r in rows}
        assert thread.is_alive(), "the sink stopped"
    finally:
        runner.stop()
        thread.join(30)
        sink.close()
        erp.http.close()
        codecs.client.__exit__(None, None, None)  # type: ignore[no-untyped-call]
    return Sunk(letters, customers, codec_errors)


def dead_letters(kafka: KafkaSettings, topic: str, keys: set[str]) -> dict[str, dict[str, bytes]]:
    consumer = Consumer(kafka.librdkafka() | {"group.id": "bad-input-reader", "enable.partition.eof": True})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        found: dict[str, dict[str, bytes]] = {}
        pending = set(partitions)
        deadline = time.monotonic() + 5
        while pending and time.monotonic() < deadline:
            for msg in consumer.consume(500, 0.2):
                if msg.error():
                    pending.discard(msg.partition())
                elif (key := (msg.key() or b"").decode()) in keys:
                    headers: list[tuple[str, bytes]] = list(msg.headers() or [])  # type: ignore[arg-type]
                    found[key] = dict(headers)
        return found
    finally:
        consumer.close()


# ---- the catalogue -------------------------------------------------------------------------------------


@dataclass
class Ctx:
    """What a kind's check works with; the sink's run is started by the first kind that needs it."""

    read: Read
    proxy: tuple[Proxy, str]
    crm_url: str
    tmp: Path
    caplog: pytest.LogCaptureFixture
    request: pytest.FixtureRequest

    @property
    def sunk(self) -> Sunk:
        result: Sunk = self.request.getfixturevalue("sunk")
        return result


def missing_required_field(ctx: Ctx) -> None:
    headers = streams_letter(ctx.read, "missing-number")
    assert headers[deadletter.FIELD] == b"accountnumber"
    assert b"is required" in headers[deadletter.REASON]


def value_the_target_rejects(ctx: Ctx) -> None:
    headers = ctx.sunk.letters[SINK_KEYS["rejected"]]
    assert headers[deadletter.FIELD] == b"CustomerGroupId"
    assert b"NO-SUCH" in headers[deadletter.REASON] and headers[deadletter.STAGE] == b"sink"


def unknown_country(ctx: Ctx) -> None:
    headers = streams_letter(ctx.read, "unknown-country")
    assert headers[deadletter.FIELD] == b"address1_country"
    assert b"'Atlantis' is not in value map 'countries'" in headers[deadletter.REASON]


def unknown_unit(ctx: Ctx) -> None:
    row = {"ProductNumber": "P-ZZ", "ProductName": "Widget", "SalesUnitSymbol": "zz", "Sellable": True}
    with pytest.raises(RecordError) as caught:
        PRODUCTS_FLOW.handle(samples.change("r", row, 7, entity="CDSReleasedDistinctProducts", system="erp"), None)
    headers = letter(caught.value, "products", "streams", "usmf|P-ZZ")
    assert headers[deadletter.FIELD] == b"SalesUnitSymbol" and b"'zz'" in headers[deadletter.REASON]


def over_long_string(ctx: Ctx) -> None:
    """To FinOps: cut to 100 characters by the template, and recorded; to the CRM: refused, dead-lettered."""
    event = ctx.read.events["over-long"]
    with ctx.caplog.at_level(logging.WARNING, logger="p2c.streams.template"):
        outcome = ACCOUNTS_FLOW.handle(event.value, None, event.key)
    assert outcome.writes[0].value["record"]["OrganizationName"] == LONG_NAME[:100]
    assert f"record {ctx.read.ids['over-long']}: name truncated from {len(LONG_NAME)} to 100" in ctx.caplog.text
    sink = ProductSink(CrmSinkSettings(url=ctx.crm_url).client("crm bad-input"), VersionStore(ctx.tmp, "products"))
    record = {
        "productnumber": f"P-{TAG}",
        "name": "Bolt " * 30,  # 150 characters: Dataverse's product name takes 100
        "transactioncurrencyid_isocurrencycode": "USD",
        "defaultuomid_name": "Each",
        "defaultuomscheduleid_name": "Default Unit",
        "price": Decimal("1"),
    }
    origin = {"system": "erp", "entity": "CDSReleasedDistinctProducts", "id": f"P-{TAG}", "version": 1, "ts_ms": 0}
    value = {"op": "UPSERT", "record": record, "origin": origin}
    try:
        result = sink.write([SinkRecord(topics.CRM_PRODUCTS_TARGET.name, 0, 0, f"P-{TAG}", value)])
    finally:
        sink.close()
    ((rejected, error),) = result.rejected
    assert rejected.key == f"P-{TAG}" and error.field == "name", error


def control_characters_and_emoji(ctx: Ctx) -> None:
    """A control character is refused naming the field; emoji are text, written intact."""
    headers = streams_letter(ctx.read, "control-character")
    assert headers[deadletter.FIELD] == b"name" and b"U+0007" in headers[deadletter.REASON]
    event = ctx.read.events["emoji"]
    written = ACCOUNTS_FLOW.handle(event.value, None, event.key).writes[0].value["record"]
    assert written["OrganizationName"] == f"Café ☕ 🚀 {TAG}"
    assert ctx.sunk.customers[f"B{TAG}-EMOJI"]["OrganizationName"] == "Café ☕ 🚀 Ltd"


def number_where_text_is_due(ctx: Ctx) -> None:
    assert ctx.read.spoiled, "the proxy never served the spoiled page"
    rejected = ctx.read.rejected["number-for-text"]
    assert (rejected.key, rejected.field) == (ctx.read.ids["number-for-text"], "name")
    assert "12345" in rejected.reason and "where text is due" in rejected.reason


def resync_after(ctx: Ctx, spoil: Callable[[httpx.Response], tuple[int, str, bytes]]) -> None:
    """The page is refused as a RetriableError (the runner restarts from its position), then read in full."""
    p, url = ctx.proxy
    p.spoil = spoil
    with pytest.raises(RetriableError) as caught:
        full_load(source(url, f"bad-input-spoiled-{TAG}"))
    assert "not JSON" in str(caught.value) and "accounts" in str(caught.value)
    items, _ = full_load(source(url, f"bad-input-again-{TAG}"))
    assert set(ctx.read.events) <= {
        k for k, v in ctx.read.ids.items() if any(isinstance(i, ChangeEvent) and i.key == v for i in items)
    }


def malformed_page(ctx: Ctx) -> None:
    resync_after(ctx, lambda up: (200, up.headers["content-type"], up.content[: len(up.content) // 2]))


def html_error_page_with_200(ctx: Ctx) -> None:
    page = b"<html><body><h1>502 Bad Gateway</h1><p>The upstream server did not answer.</p></body></html>"
    resync_after(ctx, lambda _up: (200, "text/html; charset=utf-8", page))


def expired_delta_token(ctx: Ctx) -> None:
    position = json.loads(json.dumps(ctx.read.position))
    state = position["entities"]["accounts"]
    assert "deltatoken=" in state["delta"]
    state["delta"] = state["delta"].split("deltatoken=")[0] + "deltatoken=1"  # long gone
    with ctx.caplog.at_level(logging.WARNING, logger="p2c.connectors.dataverse"):
        items, _ = full_load(source(ctx.proxy[1], f"bad-input-expired-{TAG}"), position)
    assert "no longer accepted" in ctx.caplog.text and "full resync" in ctx.caplog.text
    ops = {i.key: i.value["op"] for i in items if isinstance(i, ChangeEvent)}
    assert ops[ctx.read.ids["emoji"]] == "r"


def unknown_schema_id(ctx: Ctx) -> None:
    key = SINK_KEYS["schema-id"]
    assert isinstance(ctx.sunk.codec_errors[key], RecordError), ctx.sunk.codec_errors[key]
    headers = ctx.sunk.letters[key]
    assert b"names a schema the registry does not know (Schema 987654" in headers[deadletter.REASON]
    assert headers[deadletter.STAGE] == b"sink" and key.encode() in headers[deadletter.REASON]


def truncated_avro_value(ctx: Ctx) -> None:
    key = SINK_KEYS["truncated"]
    assert isinstance(ctx.sunk.codec_errors[key], RecordError), ctx.sunk.codec_errors[key]
    assert b"cannot be decoded" in ctx.sunk.letters[key][deadletter.REASON]


def tombstone_where_a_value_is_due(ctx: Ctx) -> None:
    assert b"a tombstone (no value)" in ctx.sunk.letters[SINK_KEYS["tombstone"]][deadletter.REASON]


def the_rest_is_written(ctx: Ctx) -> None:
    """Around all of the sink's bad records, the good ones are in the ERP, and the bad ones are not."""
    assert set(ctx.sunk.customers) == {f"B{TAG}-GOOD-{i}" for i in range(3)} | {f"B{TAG}-EMOJI"}


CATALOGUE: dict[str, Callable[[Ctx], None]] = {
    "missing required field": missing_required_field,
    "value the target rejects": value_the_target_rejects,
    "unknown country": unknown_country,
    "unknown unit": unknown_unit,
    "over-long string": over_long_string,
    "control characters and emoji": control_characters_and_emoji,
    "number where text is due": number_where_text_is_due,
    "malformed page": malformed_page,
    "HTML error page with 200": html_error_page_with_200,
    "expired delta token": expired_delta_token,
    "unknown schema id": unknown_schema_id,
    "truncated Avro value": truncated_avro_value,
    "tombstone where a value is due": tombstone_where_a_value_is_due,
    "the rest is written": the_rest_is_written,
}


@pytest.mark.parametrize("kind", list(CATALOGUE))
def test_bad_input_ends_in_a_dead_letter_naming_record_and_field_or_a_resync(
    kind: str,
    read: Read,
    proxy: tuple[Proxy, str],
    crm_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    request: pytest.FixtureRequest,
) -> None:
    CATALOGUE[kind](Ctx(read, proxy, crm_url, tmp_path, caplog, request))
