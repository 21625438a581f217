"""ERP writes: FinOps validation, strict types, keys, record versions, contact persons, products (no HTTP)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from p2c.sandbox.erp import entities as E
from p2c.sandbox.erp.app import open_store
from p2c.sandbox.erp.store import ErpStore
from p2c.sandbox.odata.errors import ODataError


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ErpStore]:
    s = open_store(tmp_path)
    yield s
    s.close()


def org(account: str, **extra: Any) -> dict[str, Any]:
    return {
        "CustomerAccount": account,
        "PartyType": "Organization",
        "OrganizationName": "Org",
        "CustomerGroupId": "10",
        **extra,
    }


def error(store: ErpStore, entity: Any, body: dict[str, Any]) -> str:
    with pytest.raises(ODataError) as err:
        store.create(entity, body)
    assert err.value.status == 400 and err.value.innererror is not None
    return err.value.message


def test_defaults_to_usmf_and_fills_finops_empty_values(store: ErpStore) -> None:
    first = store.create(E.CUSTOMERS, org("C1"))
    assert first["dataAreaId"] == "usmf"
    assert first["CredManCustomerSince"] == "1900-01-01T00:00:00.000Z"  # non-nullable DateTimeOffset
    assert first["OnHoldStatus"] == "No" and first["CreditLimit"] == 0  # an enum's first member, a Decimal 0
    updated = store.update(E.CUSTOMERS, {"dataAreaId": "USMF", "CustomerAccount": "C1"}, {"SalesMemo": "m"})
    assert updated["__rv"] > first["__rv"]  # the hidden record version behind the ETag


@pytest.mark.parametrize(
    ("body", "text"),
    [
        (org("C9", ModifiedDateTime="2024-01-01T00:00:00Z"), "'ModifiedDateTime' does not exist on type"),
        (org("C9", P2CSourceVersion=1), "'P2CSourceVersion' does not exist"),
        (org("C9", AddressPostBox="1"), "'AddressPostBox' does not exist"),
        (org("C9", CredManCustomerSince="2024-01-01"), "CredManCustomerSince"),
        (org("C9", CredManCustomerSince=None), "does not allow null values"),
        (org("C9", OnHoldStatus="Blocked"), "Microsoft.Dynamics.DataEntities.CustVendorBlocked"),
        (org("C9", OnHoldStatus=2), "OnHoldStatus"),
        (org("C9", CreditLimit="lots"), "CreditLimit"),
    ],
)
def test_the_payload_is_read_as_strictly_as_finops_reads_it(store: ErpStore, body: dict[str, Any], text: str) -> None:
    with pytest.raises(ODataError) as err:
        store.create(E.CUSTOMERS, body)
    assert err.value.status == 400 and text in err.value.message


def test_a_date_time_with_an_offset_is_taken(store: ErpStore) -> None:
    row = store.create(E.CUSTOMERS, org("C1", CredManCustomerSince="2024-01-01T00:00:00+02:00"))
    assert row["CredManCustomerSince"] == "2023-12-31T22:00:00.000Z"


@pytest.mark.parametrize(
    ("body", "texts"),
    [
        (org("C9", CustomerGroupId="99"), ["Customer group '99' does not exist", "CustomerGroupId"]),
        (org("C9", SalesCurrencyCode="ZZZ"), ["Currency 'ZZZ' does not exist", "SalesCurrencyCode"]),
        (
            org("C9", InvoiceAddressCountryRegionISOCode="USA"),
            ["'USA' does not exist", "InvoiceAddressCountryRegionISOCode"],
        ),
        (org("C9", LanguageId="klingon"), ["Language 'klingon'"]),
        (org("C9", OrganizationName=None), ["Field 'OrganizationName' must be filled in."]),
        ({"CustomerAccount": "C9"}, ["'CustomerGroupId' must be filled in", "'PartyType' must be filled in"]),
        (org("C9", PartyType="Person"), ["'PersonLastName' must be filled in"]),
        (org("C9", dataAreaId="nope"), ["Company 'nope' does not exist"]),
    ],
)
def test_customer_validation(store: ErpStore, body: dict[str, Any], texts: list[str]) -> None:
    message = error(store, E.CUSTOMERS, body)
    assert message.startswith("Write failed for table row of type 'CustCustomerV3Entity'. Infolog: Error: ")
    for text in texts:
        assert text in message


def test_quotation_rules(store: ErpStore) -> None:
    store.create(E.RELEASED_PRODUCTS, {"ProductNumber": "P-1", "SalesUnitSymbol": "ea", "CurrencyCode": "USD"})
    assert "RequestingCustomerAccountNumber" in error(
        store, E.QUOTATION_HEADERS, {"SalesQuotationNumber": "Q1", "RequestingCustomerAccountNumber": "C1"}
    )
    store.create(E.CUSTOMERS, org("C1"))
    store.create(E.QUOTATION_HEADERS, {"SalesQuotationNumber": "Q1", "RequestingCustomerAccountNumber": "C1"})
    line = {
        "SalesQuotationNumber": "Q1",
        "LineCreationSequenceNumber": 1,
        "ProductNumber": "P-1",
        "SalesUnitSymbol": "ea",
    }
    assert "'P-2' is not a released product" in error(store, E.QUOTATION_LINES, {**line, "ProductNumber": "P-2"})
    assert "Unit 'xx' does not exist" in error(store, E.QUOTATION_LINES, {**line, "SalesUnitSymbol": "xx"})
    assert "Sales quotation 'Q9'" in error(store, E.QUOTATION_LINES, {**line, "SalesQuotationNumber": "Q9"})
    store.create(E.QUOTATION_LINES, line)
    assert "already exists" in error(store, E.QUOTATION_LINES, line)
    with pytest.raises(ODataError, match="OnHoldStatus"):
        store.delete(E.CUSTOMERS, {"dataAreaId": "usmf", "CustomerAccount": "C1"})
    store.delete(E.QUOTATION_HEADERS, {"dataAreaId": "usmf", "SalesQuotationNumber": "Q1"})
    assert store.conn.execute("SELECT COUNT(*) FROM cdssalesquotationlines").fetchone()[0] == 0
    store.delete(E.CUSTOMERS, {"dataAreaId": "usmf", "CustomerAccount": "C1"})


def test_patch_never_creates_and_keys_are_checked(store: ErpStore) -> None:
    with pytest.raises(ODataError) as err:
        store.update(E.CUSTOMERS, {"dataAreaId": "usmf", "CustomerAccount": "NOPE"}, {"SalesMemo": "x"})
    assert err.value.status == 404
    with pytest.raises(ODataError, match="key"):
        store.get(E.CUSTOMERS, {"CustomerAccount": "C1"})
    store.create(E.CUSTOMERS, org("C1"))
    with pytest.raises(ODataError, match="cannot be changed"):
        store.update(E.CUSTOMERS, {"dataAreaId": "usmf", "CustomerAccount": "C1"}, {"CustomerAccount": "C2"})


def test_contact_person_needs_its_customer(store: ErpStore) -> None:
    body = {
        "ContactPersonId": "CON-1",
        "LastName": "Doe",
        "AssociatedContactType": "Customer",
        "AssociatedContactNumber": "C1",
        "PrimaryAddressCountryRegionId": "USA",
    }
    assert "Customer account 'C1' does not exist" in error(store, E.CONTACTS, body)
    store.create(E.CUSTOMERS, org("C1"))
    created = store.create(E.CONTACTS, body)
    assert created["ContactPersonId"] == "CON-1" and created["ContactPersonPartyNumber"].isdigit()
    assert "Contact person ID 'CON-1' is already used" in error(store, E.CONTACTS, body)
    assert "'US' does not exist" in error(store, E.CONTACTS, {**body, "PrimaryAddressCountryRegionId": "US"})
    assert "FinOps assigns it" in error(store, E.CONTACTS, {**body, "ContactPersonPartyNumber": "1"})
    other = store.create(E.CONTACTS, {**body, "ContactPersonId": "CON-2"})
    assert other["ContactPersonPartyNumber"] != created["ContactPersonPartyNumber"]
    key = {k: created[k] for k in E.CONTACTS.key}
    with pytest.raises(ODataError, match="enum type"):
        store.get(E.CONTACTS, key)
    enum_key = {**key, "AssociatedContactType": f"{E.CONTACTS.by_name['AssociatedContactType'].enum}'Customer'"}
    assert store.get(E.CONTACTS, enum_key) is not None


def test_a_products_order_settings_and_sell_dates_come_and_go_with_it(store: ErpStore) -> None:
    store.create(E.RELEASED_PRODUCTS, {"ProductNumber": "P-1", "SalesUnitSymbol": "ea", "SalesPrice": 5})
    settings = {"dataAreaId": "usmf", "ItemNumber": "P-1"}
    order = store.get(E.ORDER_SETTINGS, settings)
    assert order is not None and order["IsSalesProcessingStopped"] == "No"
    v2 = store.get(E.RELEASED_PRODUCTS_V2, settings)
    assert v2 is not None and v2["SellEndDate"] == "1900-01-01T00:00:00.000Z" and v2["SalesPrice"] == 5
    store.update(E.RELEASED_PRODUCTS_V2, settings, {"SalesPrice": 7})
    product = store.get(E.RELEASED_PRODUCTS, {"dataAreaId": "usmf", "ProductNumber": "P-1"})
    assert product is not None and product["SalesPrice"] == 7
    with pytest.raises(ODataError) as err:
        store.create(E.ORDER_SETTINGS, {"ItemNumber": "P-2"})
    assert err.value.status == 405
    store.delete(E.RELEASED_PRODUCTS, {"dataAreaId": "usmf", "ProductNumber": "P-1"})
    assert store.get(E.ORDER_SETTINGS, settings) is None and store.get(E.RELEASED_PRODUCTS_V2, settings) is None
