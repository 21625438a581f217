"""The released products -> products template: every mapped field, sellable routing, the unit map."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from p2c.errors import ConfigurationError, RecordError
from p2c.streams import loader, samples
from p2c.streams.flow import DELETE, UPSERT, MappingFlow
from p2c.streams.template import apply, matches


@pytest.fixture(scope="module")
def flow() -> MappingFlow:
    return MappingFlow(loader.load("products"))


def product(**fields: Any) -> dict[str, Any]:
    return {
        "dataAreaId": "usmf",
        "ProductNumber": "P-1000",
        "ProductName": "Steel Bolt 100",
        "ProductDescription": "Steel Bolt 100, sold by the box.",
        "ItemNumber": "P-1000",
        "ProductType": "Item",
        "IsSalesProcessingStopped": "No",
        "Sellable": True,
        "SalesUnitSymbol": "box",
        "SalesPrice": Decimal("12.5000"),
        "UnitCost": Decimal("7.2500"),
        "CurrencyCode": "USD",
        "SalesUnitDecimalPrecision": 2,
        **fields,
    }


def change(op: str, row: dict[str, Any], version: int) -> dict[str, Any]:
    return samples.change(op, row, version, entity="CDSReleasedDistinctProducts", system="erp")


def test_every_field_of_a_sellable_product_is_mapped(flow: MappingFlow) -> None:
    assert apply(flow.template, product()) == {
        "productnumber": "P-1000",
        "name": "Steel Bolt 100",
        "description": "Steel Bolt 100, sold by the box.",
        "transactioncurrencyid_isocurrencycode": "USD",
        "defaultuomid_name": "Box",
        "defaultuomscheduleid_name": "Default Unit",
        "pricelevelid_name": None,  # the sink takes the first price list in the product's currency
        "price": Decimal("12.5000"),
        "currentcost": Decimal("7.2500"),
        "producttypecode": 1,
        "quantitydecimal": 2,
        "msdynce_ismaintainedexternally": True,
    }


def test_defaults_and_cleanup(flow: MappingFlow) -> None:
    record = apply(
        flow.template,
        product(
            ProductNumber=" P-2000 ",
            ProductName=" Consulting ",
            CurrencyCode="eur",
            SalesUnitSymbol=" H ",
            ProductType="service",
            SalesUnitDecimalPrecision=None,
            SalesPrice=None,
            UnitCost=None,
            ProductDescription=None,
        ),
    )
    assert record["productnumber"] == "P-2000" and record["name"] == "Consulting"
    assert record["transactioncurrencyid_isocurrencycode"] == "EUR"
    assert record["defaultuomid_name"] == "Hour"
    assert record["producttypecode"] == 3  # Services
    assert record["quantitydecimal"] == 0
    assert record["price"] is None and record["currentcost"] is None and record["description"] is None


@pytest.mark.parametrize(
    ("symbol", "unit"),
    [
        ("ea", "Each"),
        ("pcs", "Piece"),
        ("box", "Box"),
        ("dz", "Dozen"),
        ("set", "Set"),
        ("h", "Hour"),
        ("kg", "Kilogram"),
        ("m", "Meter"),
        ("PCS", "Piece"),
    ],
)
def test_finops_unit_symbols_become_the_crm_unit_names(flow: MappingFlow, symbol: str, unit: str) -> None:
    assert apply(flow.template, product(SalesUnitSymbol=symbol))["defaultuomid_name"] == unit


def test_the_unit_names_are_those_the_crm_has() -> None:
    from p2c.sandbox.crm.refdata import UNIT_GROUP, UNITS

    units = loader.shared_map("units").entries
    assert set(units.values()) <= set(UNITS)
    assert loader.load("products").field_spec("defaultuomscheduleid_name").const == UNIT_GROUP


@pytest.mark.parametrize("symbol", ["lb", "pallet"])
def test_an_unknown_unit_symbol_names_the_field_and_the_value(flow: MappingFlow, symbol: str) -> None:
    with pytest.raises(RecordError) as caught:
        flow.handle(change("c", product(SalesUnitSymbol=symbol), 1), None, "usmf|P-1000")
    error = caught.value
    assert (error.record_key, error.field) == ("P-1000", "SalesUnitSymbol")
    assert repr(symbol) in error.reason


def test_a_product_without_a_unit_is_a_record_error(flow: MappingFlow) -> None:
    with pytest.raises(RecordError) as caught:
        apply(flow.template, product(SalesUnitSymbol=None))
    assert caught.value.field == "SalesUnitSymbol"


def test_an_unknown_product_type_names_the_field(flow: MappingFlow) -> None:
    with pytest.raises(RecordError) as caught:
        apply(flow.template, product(ProductType="Kit"))
    assert caught.value.field == "ProductType"


@pytest.mark.parametrize(("sellable", "routed"), [(True, True), (False, False), (None, False)])
def test_only_sellable_products_are_routed(flow: MappingFlow, sellable: bool | None, routed: bool) -> None:
    assert matches(flow.template, product(Sellable=sellable)) is routed


def test_a_sellable_product_is_upserted_by_productnumber(flow: MappingFlow) -> None:
    outcome = flow.handle(change("c", product(), 7), None, "usmf|P-1000")
    [write] = outcome.writes
    assert write.key == "P-1000" and write.value["op"] == UPSERT
    assert write.value["origin"] == {
        "system": "erp",
        "entity": "CDSReleasedDistinctProducts",
        "id": "P-1000",
        "version": 7,
        "ts_ms": write.value["origin"]["ts_ms"],
    }
    assert outcome.known == {"productnumber": "P-1000"}


def test_a_product_that_is_not_sellable_is_skipped(flow: MappingFlow) -> None:
    outcome = flow.handle(change("c", product(Sellable=False), 1), None, "usmf|P-1000")
    assert outcome.writes == [] and outcome.skipped and outcome.known is None


def test_a_product_that_stops_being_sellable_is_deleted(flow: MappingFlow) -> None:
    created = flow.handle(change("c", product(), 1), None, "usmf|P-1000")
    stopped = flow.handle(change("u", product(Sellable=False), 2), created.known, "usmf|P-1000")
    assert [(w.key, w.value["op"], w.value["record"]) for w in stopped.writes] == [
        ("P-1000", DELETE, {"productnumber": "P-1000"})
    ]
    assert stopped.known is None


def test_a_deleted_product_is_deleted_even_when_never_seen(flow: MappingFlow) -> None:
    deleted = flow.handle(change("d", {"dataAreaId": "usmf", "ProductNumber": "P-1000"}, 3), None, "usmf|P-1000")
    assert [(w.key, w.value["op"]) for w in deleted.writes] == [("P-1000", DELETE)]


def test_a_price_list_can_be_forced_in_the_template(tmp_path: Path) -> None:
    text = (loader.TEMPLATES / "products.toml").read_text()
    path = tmp_path / "products.toml"
    path.write_text(text.replace("pricelevelid_name = {}", 'pricelevelid_name = { const = "standard" }'))
    assert apply(loader.load(path), product())["pricelevelid_name"] == "standard"


def test_a_unit_map_entry_of_the_wrong_type_is_rejected(tmp_path: Path) -> None:
    text = (loader.TEMPLATES / "products.toml").read_text()
    path = tmp_path / "products.toml"
    path.write_text(text.replace("{ Item = 1, Service = 3 }", '{ Item = "1", Service = 3 }'))
    with pytest.raises(ConfigurationError, match="producttypecode"):
        loader.load(path)
