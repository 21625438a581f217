"""ERP writes: FinOps validation, keys, ModifiedDateTime, delete rules (no HTTP)."""

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


def test_defaults_to_usmf_and_stamps_modified_time(store: ErpStore) -> None:
    first = store.create(E.CUSTOMERS, org("C1"))
    second = store.create(E.CUSTOMERS, org("C2"))
    assert first["dataAreaId"] == "usmf"
    assert first["ModifiedDateTime"] < second["ModifiedDateTime"]
    updated = store.update(E.CUSTOMERS, {"dataAreaId": "USMF", "CustomerAccount": "C1"}, {"SalesMemo": "m"})
    assert updated["ModifiedDateTime"] > second["ModifiedDateTime"]


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
    assert store.create(E.CONTACTS, body)["ContactPersonId"] == "CON-1"
