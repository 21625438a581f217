"""The CRM products sink against the CRM sandbox in-process: upsert by productnumber with bindings and a
price-list item in one change set, the version guard, price-list choice, dead letters, retiring."""

from __future__ import annotations

import itertools
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from p2c import topics
from p2c.connectors.base.sink import SinkRecord
from p2c.connectors.core.versions import VersionStore
from p2c.connectors.dataverse.pricing import Bindings
from p2c.connectors.dataverse.sink import ProductSink
from p2c.errors import RetriableError

from . import sandboxes

pytestmark = pytest.mark.timeout(20)

_offsets = itertools.count()


def write(number: str, version: int, op: str = "UPSERT", **fields: Any) -> SinkRecord:
    record = {
        "productnumber": number,
        "name": f"{number} v{version}",
        "transactioncurrencyid_isocurrencycode": "USD",
        "defaultuomid_name": "Each",
        "defaultuomscheduleid_name": "Default Unit",
        "pricelevelid_name": None,
        "price": Decimal("10.5"),
        "msdynce_ismaintainedexternally": True,
        **fields,
    }
    origin = {"system": "erp", "entity": "CDSReleasedDistinctProducts", "id": number, "version": version, "ts_ms": 0}
    value = {"op": op, "record": record, "origin": origin}
    return SinkRecord(topics.CRM_PRODUCTS_TARGET.name, 0, next(_offsets), number, value)


def rows(crm: sandboxes.InProcess, entity_set: str, **params: str) -> list[dict[str, Any]]:
    return list(crm.client().get_json(entity_set, params=params)["value"])


@pytest.fixture
def crm(tmp_path: Path) -> sandboxes.InProcess:
    return sandboxes.crm(tmp_path)[0]


def sink(crm: sandboxes.InProcess, state: Path) -> ProductSink:
    """A products sink; sinks made with the same ``state`` share their applied versions, as after a restart."""
    client = crm.client()
    return ProductSink(client, VersionStore(state, "products"), bindings=Bindings(client, min_reload=0.0))


def test_products_and_price_list_items_are_upserted_in_one_change_set_each(
    crm: sandboxes.InProcess, tmp_path: Path
) -> None:
    s = sink(crm, tmp_path)
    result = s.write(
        [write("P-1", 5), write("P-2", 6, price=Decimal("3"), transactioncurrencyid_isocurrencycode="EUR")]
    )
    assert len(result.written) == 2 and not result.rejected
    products = {p["productnumber"]: p for p in rows(crm, "products")}
    p1 = products["P-1"]
    assert (p1["name"], p1["msdynce_ismaintainedexternally"]) == ("P-1 v5", True)
    assert "p2c_sourceversion" not in p1  # Sales needs no column of p2c's
    levels = {lv["pricelevelid"]: lv["name"] for lv in rows(crm, "pricelevels")}
    assert levels[p1["_pricelevelid_value"]] == "standard"
    assert levels[products["P-2"]["_pricelevelid_value"]] == "europe"  # the first EUR price list by name
    items = rows(crm, "productpricelevels")
    assert {(i["_productid_value"], levels[i["_pricelevelid_value"]], i["amount"]) for i in items} == {
        (p1["productid"], "standard", 10.5),
        (products["P-2"]["productid"], "europe", 3.0),
    }
    assert crm.count("POST", "$batch") == 1

    again = s.write([write("P-1", 7, price=Decimal("11"))])
    assert len(again.written) == 1
    assert [i["amount"] for i in rows(crm, "productpricelevels") if i["_productid_value"] == p1["productid"]] == [11.0]


def test_older_versions_and_replays_are_skipped(crm: sandboxes.InProcess, tmp_path: Path) -> None:
    s = sink(crm, tmp_path)
    s.write([write("P-1", 9)])
    result = s.write([write("P-1", 8), write("P-1", 9)])
    assert len(result.skipped) == 2 and not result.written
    assert rows(crm, "products")[0]["name"] == "P-1 v9"


def test_a_replay_writes_again_a_product_deleted_in_sales_by_hand(crm: sandboxes.InProcess, tmp_path: Path) -> None:
    s = sink(crm, tmp_path)
    s.write([write("P-1", 9), write("P-2", 9)])
    gone = next(p for p in rows(crm, "products") if p["productnumber"] == "P-1")
    crm.client().request("DELETE", f"products({gone['productid']})")
    result = s.write([write("P-1", 9), write("P-2", 9)])
    assert [r.key for r in result.written] == ["P-1"] and len(result.skipped) == 1
    assert {p["productnumber"] for p in rows(crm, "products")} == {"P-1", "P-2"}


def test_no_price_list_in_the_currency_rejects_that_product_alone(crm: sandboxes.InProcess, tmp_path: Path) -> None:
    s = sink(crm, tmp_path)
    result = s.write([write("P-JPY", 1, transactioncurrencyid_isocurrencycode="JPY"), write("P-OK", 1)])
    assert [r.key for r in result.written] == ["P-OK"]
    ((record, error),) = result.rejected
    assert record.key == "P-JPY" and "no price list in currency JPY for product P-JPY" in str(error)
    assert error.field == "transactioncurrencyid_isocurrencycode"
    missing = s.write([write("P-X", 1, pricelevelid_name="nope"), write("P-Y", 1, defaultuomid_name="Furlong")])
    assert {e.field for _, e in missing.rejected} == {"pricelevelid_name", "defaultuomid_name"}

    crm.client().request(
        "POST",
        "pricelevels",
        json={"name": "japan", "transactioncurrencyid@odata.bind": "/transactioncurrencies(" + _id(crm, "JPY") + ")"},
    )
    assert len(s.write([write("P-JPY", 1, transactioncurrencyid_isocurrencycode="JPY")]).written) == 1


def _id(crm: sandboxes.InProcess, iso: str) -> str:
    return str(
        next(c["transactioncurrencyid"] for c in rows(crm, "transactioncurrencies") if c["isocurrencycode"] == iso)
    )


def test_a_named_price_list_is_used_case_insensitively(crm: sandboxes.InProcess, tmp_path: Path) -> None:
    sink(crm, tmp_path).write([write("P-1", 1, pricelevelid_name="UK")])
    levels = {lv["pricelevelid"]: lv["name"] for lv in rows(crm, "pricelevels")}
    assert [levels[i["_pricelevelid_value"]] for i in rows(crm, "productpricelevels")] == ["uk"]


def test_delete_retires_and_a_newer_upsert_reactivates(crm: sandboxes.InProcess, tmp_path: Path) -> None:
    s = sink(crm, tmp_path)
    s.write([write("P-1", 1)])
    assert len(s.write([write("P-1", 2, op="DELETE")]).written) == 1
    assert rows(crm, "products")[0]["statecode"] == 1
    assert len(s.write([write("P-NEVER", 3, op="DELETE")]).skipped) == 1
    s.write([write("P-1", 3)])
    assert rows(crm, "products")[0]["statecode"] == 0


def test_throttling_is_retriable(crm: sandboxes.InProcess, tmp_path: Path) -> None:
    s = sink(crm, tmp_path)
    crm.fail_next = [429] * 5
    with pytest.raises(RetriableError):
        s.write([write("P-1", 1)])


def test_a_cleared_description_and_cost_are_written_as_null(crm: sandboxes.InProcess, tmp_path: Path) -> None:
    s = sink(crm, tmp_path)
    s.write([write("P-1", 1, description="Steel bolt", currentcost=Decimal("4"))])
    cleared = write("P-1", 2, description=None, currentcost=None)
    cleared.value["cleared"] = ["description", "currentcost"]
    assert len(s.write([cleared]).written) == 1
    (p1,) = rows(crm, "products", **{"$filter": "productnumber eq 'P-1'"})
    assert (p1["description"], p1["currentcost"]) == (None, None)
