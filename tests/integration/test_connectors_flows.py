"""The connectors of the contacts, quotes and products flows against real processes: the embedded broker, the
schema registry, the CRM and ERP sandboxes, and ``p2c source run erp`` / ``p2c sink run erp|crm`` as children."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

from p2c import deadletter, schemas, topics
from p2c.process import ManagedProcess, log_says, p2c_command
from p2c.serde import Codecs
from p2c.settings import KafkaSettings

from .test_connectors import Api, component_env, crm, erp, kafka, read_topic, wait_for

__all__ = ["crm", "erp", "kafka"]  # fixtures shared with test_connectors

pytestmark = [pytest.mark.timeout(60), pytest.mark.slow]

TOPICS = (
    topics.ERP_PRODUCTS,
    topics.CRM_PRODUCTS_TARGET,
    topics.ERP_CUSTOMERS,
    topics.ERP_CONTACTPERSONS,
    topics.ERP_QUOTATIONS,
)


@pytest.fixture(scope="module")
def codecs(registry_url: str, kafka: KafkaSettings) -> Iterator[Codecs]:
    with SchemaRegistryClient({"url": registry_url}) as client:
        for topic in TOPICS:
            client.register_schema(topic.subject, Schema(schemas.text(topic.name), "AVRO"))
        yield Codecs(client)


def produce(kafka: KafkaSettings, codecs: Codecs, topic: str, writes: list[tuple[str, dict[str, Any]]]) -> None:
    producer = Producer(kafka.producer())
    for key, value in writes:
        producer.produce(topic, key=key.encode(), value=codecs[topic].serialize(value, key))
    assert producer.flush(10) == 0


def origin(entity: str, key: str, version: int) -> dict[str, Any]:
    return {"system": "crm", "entity": entity, "id": key, "version": version, "ts_ms": 0}


def child(name: str, args: list[str], env: dict[str, str], logs_dir: Path) -> ManagedProcess:
    proc = ManagedProcess(name, p2c_command(*args), log_path=logs_dir / f"{name}-{uuid.uuid4().hex[:6]}.log", env=env)
    proc.ready = log_says(proc, "ready")
    return proc


# ---- ERP source ---------------------------------------------------------------------------------------


def test_erp_source_full_snapshot_then_changes_deletes_and_restart_without_resending(
    erp: tuple[str, Api], kafka: KafkaSettings, codecs: Codecs, registry_url: str, logs_dir: Path
) -> None:
    erp_url, api = erp
    prefix = f"IT{uuid.uuid4().hex[:6].upper()}-"
    numbers = [f"{prefix}{i}" for i in range(3)]
    for n in numbers:
        body = {"dataAreaId": "usmf", "ProductNumber": n, "ProductName": n, "SalesUnitSymbol": "ea", "SalesPrice": 9.5}
        api.http.post("CDSReleasedDistinctProducts", json=body).raise_for_status()
    keys = {f"usmf|{n}" for n in numbers}
    env = component_env(kafka, registry_url, P2C_ERP_CONNECTOR_NAME=f"itest-{prefix}")
    snapshots = str(logs_dir / f"snapshot-{prefix}")
    args = ["source", "run", "erp", "--erp-url", erp_url, "--poll-interval", "0.2", "--snapshot-dir", snapshots]
    source = child("source-erp", args, env, logs_dir)

    def events() -> list[tuple[str, dict[str, Any], Any]]:
        return read_topic(kafka, codecs, topics.ERP_PRODUCTS.name, keys)

    def path(n: str) -> str:
        return f"CDSReleasedDistinctProducts(dataAreaId='usmf',ProductNumber='{n}')"

    source.start(timeout=30)
    try:
        loaded = wait_for("the full load", lambda: (e := events()) and len(e) >= 3 and e)
        assert sorted(v["op"] for _, v, _ in loaded) == ["r"] * 3
        assert loaded[0][1]["after"]["SalesPrice"] == Decimal("9.5000") and loaded[0][1]["after"]["Sellable"]
        api.http.patch(path(numbers[0]), json={"ProductName": "Renamed"}).raise_for_status()
        changed = wait_for("the change", lambda: (e := events()) and len(e) >= 4 and e)
        update = next(v for _, v, _ in changed if v["op"] == "u")
        assert update["after"]["ProductName"] == "Renamed"
        assert update["source"]["version"] > max(v["source"]["version"] for _, v, _ in loaded)
        stop = {"IsSalesProcessingStopped": "Yes"}
        settings = f"ProductDefaultOrderSettings(dataAreaId='usmf',ItemNumber='{numbers[2]}')"
        api.http.patch(settings, json=stop).raise_for_status()
        stopped = wait_for("sales stopped", lambda: (e := events()) and len(e) >= 5 and e)
        # events() reads partitions in no particular order: look at the stopped product's own events
        third = [v for k, v, _ in stopped if k == f"usmf|{numbers[2]}"]
        assert [v["op"] for v in third] == ["r", "u"] and third[-1]["after"]["Sellable"] is False
        wait_for("the position", lambda: "position committed" in source.log_path.read_text())  # type: ignore[union-attr]
    finally:
        source.stop()

    api.http.patch(path(numbers[1]), json={"ProductName": "While stopped"}).raise_for_status()
    api.http.delete(path(numbers[0])).raise_for_status()
    source.start(timeout=30)
    try:
        wait_for("the changes made while stopped", lambda: len(events()) >= 7)
        time.sleep(1.0)  # a resend would show up by now
        final = events()
        assert sorted((k, v["op"]) for k, v, _ in final) == sorted(
            [(k, "r") for k in keys]
            + [(f"usmf|{numbers[0]}", "u"), (f"usmf|{numbers[2]}", "u")]
            + [(f"usmf|{numbers[1]}", "u"), (f"usmf|{numbers[0]}", "d")]
        )
    finally:
        source.stop()


# ---- CRM sink -----------------------------------------------------------------------------------------


def product_write(number: str, currency: str, version: int = 1) -> dict[str, Any]:
    record = {
        "productnumber": number,
        "name": f"{number} v{version}",
        "description": None,
        "transactioncurrencyid_isocurrencycode": currency,
        "defaultuomid_name": "Each",
        "defaultuomscheduleid_name": "Default Unit",
        "pricelevelid_name": None,
        "price": Decimal("12.5000"),
        "currentcost": None,
        "producttypecode": 1,
        "quantitydecimal": 0,
        "msdynce_ismaintainedexternally": True,
    }
    return {"op": "UPSERT", "record": record, "origin": {**origin("CDSReleasedDistinctProducts", number, version)}}


def test_crm_sink_writes_products_with_price_list_items_dead_letters_and_retries(
    crm: tuple[str, Api], kafka: KafkaSettings, codecs: Codecs, registry_url: str, logs_dir: Path
) -> None:
    crm_url, person = crm
    prefix = f"IT{uuid.uuid4().hex[:6].upper()}-"
    ok, yen = f"{prefix}USD", f"{prefix}JPY"
    produce(
        kafka,
        codecs,
        topics.CRM_PRODUCTS_TARGET.name,
        [(ok, product_write(ok, "USD")), (yen, product_write(yen, "JPY"))],
    )
    env = component_env(
        kafka,
        registry_url,
        P2C_CRM_GROUP_PREFIX=f"itest-{prefix}",
        P2C_CRM_REFERENCE_RELOAD="0",
        P2C_CRM_SINK_STATE_DIR=str(logs_dir / f"state-crm-{prefix}"),
    )
    sink = child("sink-crm", ["sink", "run", "crm", "--crm-url", crm_url, "--batch-ms", "100"], env, logs_dir)

    def products() -> dict[str, dict[str, Any]]:
        rows = person.http.get("products", params={"$filter": f"startswith(productnumber,'{prefix}')"}).json()["value"]
        return {p["productnumber"]: p for p in rows}

    sink.start(timeout=30)
    try:
        written = wait_for("the USD product", lambda: (p := products()) and ok in p and p)
        assert written[ok]["msdynce_ismaintainedexternally"] is True and "p2c_sourceversion" not in written[ok]
        items = person.http.get(
            "productpricelevels", params={"$filter": f"_productid_value eq {written[ok]['productid']}"}
        ).json()["value"]
        assert [(i["amount"], i["_pricelevelid_value"]) for i in items] == [(12.5, written[ok]["_pricelevelid_value"])]
        dlq = wait_for("the dead letter", lambda: read_topic(kafka, codecs, "p2c.dlq.products", {yen}))
        reason = dict(dlq[0][2])[deadletter.REASON].decode()
        assert f"no price list in currency JPY for product {yen}" in reason
        assert yen not in products()

        currencies = person.http.get("transactioncurrencies", params={"$filter": "isocurrencycode eq 'JPY'"}).json()
        jpy = currencies["value"][0]["transactioncurrencyid"]
        person.create(
            "pricelevels", {"name": "japan", "transactioncurrencyid@odata.bind": f"/transactioncurrencies({jpy})"}
        )
        retry = subprocess.run(
            p2c_command("dlq", "retry", "--flow", "products", "--bootstrap-servers", kafka.bootstrap_servers),
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert retry.returncode == 0, retry.stderr
        written = wait_for("the JPY product after the retry", lambda: (p := products()) and yen in p and p)
        assert written[yen]["name"] == f"{yen} v1"
    finally:
        sink.stop()


# ---- ERP sink: contact persons and quotations -----------------------------------------------------------


def customer(account: str, version: int = 1) -> tuple[str, dict[str, Any]]:
    record = {
        "dataAreaId": "usmf",
        "CustomerAccount": account,
        "PartyType": "Organization",
        "OrganizationName": account,
        "CustomerGroupId": "10",
    }
    return f"usmf|{account}", {"op": "UPSERT", "record": record, "origin": origin("accounts", account, version)}


def contact_person(number: str, account: str, version: int, op: str = "UPSERT") -> tuple[str, dict[str, Any]]:
    record = dict.fromkeys(schemas_fields(topics.ERP_CONTACTPERSONS.name))
    record |= {
        "dataAreaId": "usmf",
        "ContactPersonId": number,
        "AssociatedContactType": "Customer",
        "AssociatedContactNumber": account,
        "FirstName": "Ada",
        "LastName": f"v{version}",
    }
    return f"usmf|{number}", {"op": op, "record": record, "origin": origin("contacts", number, version)}


def schemas_fields(topic: str) -> list[str]:
    from p2c.connectors.core.convert import record_schema

    return [f["name"] for f in record_schema(topic, "record")["fields"]]


def quotation(number: str, account: str, lines: dict[int, str], version: int) -> tuple[str, dict[str, Any]]:
    header = dict.fromkeys(f for f in _quotation_fields("QuotationHeader"))
    header |= {"dataAreaId": "usmf", "SalesQuotationNumber": number, "RequestingCustomerAccountNumber": account}
    rows = []
    for n, product in lines.items():
        line = dict.fromkeys(_quotation_fields("QuotationLine"))
        line |= {
            "dataAreaId": "usmf",
            "SalesQuotationNumber": number,
            "LineCreationSequenceNumber": n,
            "ProductNumber": product,
            "SalesUnitSymbol": "ea",
            "RequestedSalesQuantity": Decimal(n),
        }
        rows.append(line)
    value = {"op": "UPSERT", "record": {"header": header, "lines": rows}, "origin": origin("quotes", number, version)}
    return f"usmf|{number}", value


def _quotation_fields(name: str) -> list[str]:
    from p2c.connectors.core.convert import _named_records

    named: dict[str, dict[str, Any]] = {}
    _named_records(schemas.load(topics.ERP_QUOTATIONS.name), named)
    return [f["name"] for f in named[name]["fields"]]


def test_erp_sink_contact_persons_and_quotations_wait_for_customers(
    erp: tuple[str, Api], kafka: KafkaSettings, codecs: Codecs, registry_url: str, logs_dir: Path
) -> None:
    erp_url, api = erp
    prefix = f"IT{uuid.uuid4().hex[:6].upper()}-"
    known, late = f"{prefix}C1", f"{prefix}LATE"
    api.http.post("CustomersV3", json=customer(known)[1]["record"]).raise_for_status()
    for p in ("P-1", "P-2", "P-3"):
        api.http.post("CDSReleasedDistinctProducts", json={"dataAreaId": "usmf", "ProductNumber": f"{prefix}{p}"})
    q1, q2 = f"{prefix}Q1", f"{prefix}Q2"
    produce(
        kafka,
        codecs,
        topics.ERP_QUOTATIONS.name,
        [
            quotation(q1, known, {1: f"{prefix}P-1", 2: f"{prefix}P-2", 3: f"{prefix}P-3"}, 1),
            quotation(q2, late, {1: f"{prefix}P-1"}, 1),
        ],
    )
    cp1, cp2 = f"{prefix}CON1", f"{prefix}CON2"
    produce(
        kafka, codecs, topics.ERP_CONTACTPERSONS.name, [contact_person(cp1, known, 1), contact_person(cp2, late, 1)]
    )
    state = str(logs_dir / f"state-{prefix}")
    env = component_env(kafka, registry_url, P2C_ERP_GROUP_PREFIX=f"itest-{prefix}", P2C_ERP_SINK_STATE_DIR=state)
    sink = child("sink-erp", ["sink", "run", "erp", "--erp-url", erp_url, "--batch-ms", "100"], env, logs_dir)

    def lines(number: str) -> dict[int, str]:
        flt = f"SalesQuotationNumber eq '{number}'"
        rows = api.http.get("CDSSalesQuotationLines", params={"$filter": flt}).json()["value"]
        return {r["LineCreationSequenceNumber"]: r["ProductNumber"] for r in rows}

    def contacts() -> dict[str, dict[str, Any]]:
        flt = f"startswith(ContactPersonId,'{prefix}')"
        return {
            c["ContactPersonId"]: c
            for c in api.http.get("CDSContactPersonsV2", params={"$filter": flt}).json()["value"]
        }

    sink.start(timeout=30)
    try:
        wait_for("quotation 1 with its three lines", lambda: len(lines(q1)) == 3)
        wait_for("the first contact person", lambda: cp1 in contacts())
        assert lines(q2) == {} and cp2 not in contacts()  # waiting for their customer

        produce(
            kafka, codecs, topics.ERP_QUOTATIONS.name, [quotation(q1, known, {1: f"{prefix}P-3", 3: f"{prefix}P-3"}, 2)]
        )
        wait_for("line 2 removed", lambda: lines(q1) == {1: f"{prefix}P-3", 3: f"{prefix}P-3"})

        produce(kafka, codecs, topics.ERP_CUSTOMERS.name, [customer(late)])
        wait_for("quotation 2 once its customer is there", lambda: lines(q2) == {1: f"{prefix}P-1"})
        wait_for("the second contact person", lambda: cp2 in contacts())

        produce(kafka, codecs, topics.ERP_CONTACTPERSONS.name, [contact_person(cp1, known, 2, op="DELETE")])
        wait_for("the deleted contact person gone", lambda: cp1 not in contacts())
    finally:
        sink.stop()
