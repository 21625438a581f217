"""A real ``p2c streams worker`` runs the products flow: ERP released products in, CRM products out.

Released product change events (Avro, wire format) go in on ``p2c.src.erp.releasedproducts`` keyed
``{dataAreaId}|{ProductNumber}``; product writes come out on ``p2c.tgt.crm.products`` keyed by productnumber;
what cannot be mapped lands on ``p2c.dlq.products``. Product numbers are fresh per test.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from confluent_kafka import Producer
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

from p2c import deadletter, schemas
from p2c.serde import Codecs
from p2c.settings import KafkaSettings
from p2c.streams import samples
from p2c.topics import CRM_PRODUCTS_TARGET, ERP_PRODUCTS, dead_letter
from tests.integration.test_streams import Message, read_until
from tests.support.workers import Workers

DLQ = dead_letter("products").name
pytestmark = pytest.mark.timeout(90)


@pytest.fixture(scope="module")
def codecs(registry_url: str) -> Iterator[Codecs]:
    with SchemaRegistryClient({"url": registry_url}) as client:
        for topic in (ERP_PRODUCTS.name, CRM_PRODUCTS_TARGET.name):
            client.register_schema(f"{topic}-value", Schema(schemas.text(topic), "AVRO"))
        yield Codecs(client)


def new_products(count: int, **overrides: Any) -> list[dict[str, Any]]:
    tag = uuid.uuid4().hex[:8].upper()
    return [
        {
            "dataAreaId": "usmf",
            "ProductNumber": f"P-{i:04d}-{tag}",
            "ProductName": f"Widget {i}",
            "ProductDescription": f"Widget {i}, sold by the piece.",
            "ItemNumber": f"P-{i:04d}-{tag}",
            "ProductType": "Item",
            "IsSalesProcessingStopped": "No",
            "Sellable": True,
            "SalesUnitSymbol": "pcs",
            "SalesPrice": Decimal("19.9900") + i,
            "UnitCost": Decimal("9.5000"),
            "CurrencyCode": "USD",
            "SalesUnitDecimalPrecision": 0,
            **overrides,
        }
        for i in range(count)
    ]


def change(op: str, row: dict[str, Any], version: int) -> dict[str, Any]:
    return samples.change(op, row, version, entity="CDSReleasedDistinctProducts", system="erp")


def source_key(row: dict[str, Any]) -> bytes:
    return f"{row['dataAreaId']}|{row['ProductNumber']}".encode()


def produce(kafka: KafkaSettings, codecs: Codecs, changes: list[dict[str, Any]]) -> list[bytes]:
    producer = Producer(kafka.producer())
    codec = codecs[ERP_PRODUCTS.name]
    values = []
    for c in changes:
        value = codec.serialize(c)
        producer.produce(ERP_PRODUCTS.name, key=source_key(c["after"] or c["before"]), value=value)
        values.append(value)
    assert producer.flush(10) == 0
    return values


def product_writes(kafka: KafkaSettings, codecs: Codecs, numbers: set[str], count: int) -> list[dict[str, Any]]:
    codec = codecs[CRM_PRODUCTS_TARGET.name]
    kept = read_until(
        kafka, CRM_PRODUCTS_TARGET.name, lambda ms: len(ms) >= count, lambda m: m.key().decode() in numbers
    )
    return [codec.deserialize(m.value()) for m in kept]


def wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def dead_letters(kafka: KafkaSettings, keys: set[bytes], count: int) -> list[Message]:
    return read_until(kafka, DLQ, lambda ms: len(ms) >= count, lambda m: m.key() in keys)


def test_released_products_become_crm_products(workers: Workers, kafka: KafkaSettings, codecs: Codecs) -> None:
    worker = workers.start("streams-products")
    rows = new_products(4)
    rows[1] |= {"SalesUnitSymbol": "h", "ProductType": "Service", "SalesUnitDecimalPrecision": 2}
    rows[2] |= {"Sellable": False}  # not sellable: skipped
    rows[3] |= {"SalesUnitSymbol": "pallet"}  # no such unit in the CRM: dead-lettered
    values = produce(kafka, codecs, [change("c", r, 1) for r in rows])
    numbers = {r["ProductNumber"] for r in rows}

    letters = dead_letters(kafka, {source_key(rows[3])}, 1)
    written = product_writes(kafka, codecs, numbers, 2)
    by_number = {w["record"]["productnumber"]: w for w in written}
    assert set(by_number) == {rows[0]["ProductNumber"], rows[1]["ProductNumber"]}
    widget = by_number[rows[0]["ProductNumber"]]
    assert widget["op"] == "UPSERT"
    assert widget["record"] == {
        "productnumber": rows[0]["ProductNumber"],
        "name": "Widget 0",
        "description": "Widget 0, sold by the piece.",
        "transactioncurrencyid_isocurrencycode": "USD",
        "defaultuomid_name": "Piece",
        "defaultuomscheduleid_name": "Default Unit",
        "pricelevelid_name": None,
        "price": Decimal("19.9900"),
        "currentcost": Decimal("9.5000"),
        "producttypecode": 1,
        "quantitydecimal": 0,
        "msdynce_ismaintainedexternally": True,
    }
    assert widget["origin"]["system"] == "erp" and widget["origin"]["id"] == rows[0]["ProductNumber"]
    service = by_number[rows[1]["ProductNumber"]]["record"]
    assert (service["defaultuomid_name"], service["producttypecode"], service["quantitydecimal"]) == ("Hour", 3, 2)

    [letter] = [deadletter.DeadLetter.from_message("products", m.key(), m.value(), m.headers()) for m in letters]
    assert letter.field == "SalesUnitSymbol" and "pallet" in letter.reason
    assert letter.value == values[3] and letter.origin_topic == ERP_PRODUCTS.name
    # The product that is not sellable was not sent on (above) and the worker counts it as skipped. The worker's
    # app reads the topic from its start, so its counts also hold what other tests produced there.
    log_path = worker.log_path
    assert log_path is not None

    def summary() -> tuple[int, int, int] | None:
        found = re.findall(r"products: in (\d+) .*?dead-lettered (\d+) skipped (\d+)", log_path.read_text())
        return (int(found[-1][0]), int(found[-1][1]), int(found[-1][2])) if found else None

    wait_for(lambda: (counts := summary()) is not None and counts[0] >= 4 and counts[2] >= 1)


def test_a_product_that_stops_being_sellable_is_retired(
    workers: Workers,
    kafka: KafkaSettings,
    codecs: Codecs,
) -> None:
    workers.start("streams-products")
    [row] = new_products(1)
    produce(
        kafka,
        codecs,
        [
            change("c", row, 1),
            change("u", row | {"Sellable": False}, 2),
            change("u", row | {"Sellable": False, "ProductName": "Still not"}, 3),
        ],
    )
    written = product_writes(kafka, codecs, {row["ProductNumber"]}, 2)
    assert [(w["op"], w["origin"]["version"]) for w in written] == [("UPSERT", 1), ("DELETE", 2)]
    assert written[1]["record"]["productnumber"] == row["ProductNumber"]


def test_a_product_deleted_in_the_erp_is_retired(workers: Workers, kafka: KafkaSettings, codecs: Codecs) -> None:
    workers.start("streams-products")
    [row] = new_products(1)
    key_only = dict.fromkeys(row) | {"dataAreaId": row["dataAreaId"], "ProductNumber": row["ProductNumber"]}
    produce(kafka, codecs, [change("c", row, 1), change("d", key_only, 2)])  # as the ERP source sends a delete
    written = product_writes(kafka, codecs, {row["ProductNumber"]}, 2)
    assert [(w["op"], w["origin"]["version"]) for w in written] == [("UPSERT", 1), ("DELETE", 2)]
