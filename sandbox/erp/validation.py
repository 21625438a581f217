"""FinOps-like validation of a row about to be written: required fields and references to reference data,
customers, quotations and released products. Each rule returns Infolog lines naming the field and value."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from p2c.sandbox.erp import entities as E
from p2c.sandbox.odata.model import EntitySet
from p2c.sandbox.odata.sqlite import exists

Row = dict[str, Any]
_GLOBAL_REFS = {  # field suffix -> (entity set, key column, label)
    "currency": (E.CURRENCIES, "CurrencyCode", "Currency"),
    "language": (E.LANGUAGES, "LanguageCodeId", "Language"),
    "unit": (E.UNITS, "UnitSymbol", "Unit"),
    "iso": (E.COUNTRIES, "ISOcode", "Country/region ISO code"),
    "region": (E.COUNTRIES, "CountryRegion", "Country/region"),
}


def _ref(conn: sqlite3.Connection, row: Row, field: str, kind: str, errors: list[str]) -> None:
    value = row.get(field)
    if value in (None, ""):
        return
    entity, column, label = _GLOBAL_REFS[kind]
    if exists(conn, entity, {column: value}):
        return
    errors.append(f"{label} '{value}' does not exist (field '{field}').")


def _required(row: Row, fields: list[str], errors: list[str]) -> None:
    for f in fields:
        if row.get(f) in (None, ""):
            errors.append(f"Field '{f}' must be filled in.")


def _customer(conn: sqlite3.Connection, row: Row, field: str, errors: list[str]) -> None:
    value = row.get(field)
    if value and not exists(conn, E.CUSTOMERS, {"dataAreaId": row["dataAreaId"], "CustomerAccount": value}):
        errors.append(f"Customer account '{value}' does not exist (field '{field}').")


def customers(conn: sqlite3.Connection, row: Row) -> list[str]:
    errors: list[str] = []
    _required(row, ["CustomerAccount", "CustomerGroupId", "PartyType"], errors)
    party = row.get("PartyType")
    if party == "Organization":
        _required(row, ["OrganizationName"], errors)
    elif party == "Person":
        _required(row, ["PersonLastName"], errors)
    elif party:
        errors.append(f"Party type '{party}' is not valid (field 'PartyType'): Organization or Person.")
    group = row.get("CustomerGroupId")
    if group and not exists(conn, E.CUSTOMER_GROUPS, {"dataAreaId": row["dataAreaId"], "CustomerGroupId": group}):
        errors.append(f"Customer group '{group}' does not exist (field 'CustomerGroupId').")
    _ref(conn, row, "SalesCurrencyCode", "currency", errors)
    _ref(conn, row, "LanguageId", "language", errors)
    for prefix in ("Address", "DeliveryAddress", "InvoiceAddress"):
        _ref(conn, row, f"{prefix}CountryRegionISOCode", "iso", errors)
        _ref(conn, row, f"{prefix}CountryRegionId", "region", errors)
    return errors


def contacts(conn: sqlite3.Connection, row: Row) -> list[str]:
    errors: list[str] = []
    _required(row, ["AssociatedContactNumber"], errors)
    if not row.get("FirstName") and not row.get("LastName"):
        errors.append("Field 'LastName' must be filled in.")
    if row.get("AssociatedContactType") == "Customer":
        _customer(conn, row, "AssociatedContactNumber", errors)
    elif row.get("AssociatedContactType"):
        errors.append(
            f"Associated contact type '{row['AssociatedContactType']}' is not supported by the sandbox "
            "(field 'AssociatedContactType'): only Customer."
        )
    contact_id = row.get("ContactPersonId")
    if contact_id:
        same = conn.execute(
            'SELECT "ContactPersonPartyNumber" FROM cdscontactpersonsv2 WHERE "dataAreaId" = ? '
            'AND "ContactPersonId" = ? AND "ContactPersonPartyNumber" <> ?',
            (row["dataAreaId"], contact_id, row.get("ContactPersonPartyNumber") or ""),
        ).fetchone()
        if same is not None:
            errors.append(f"Contact person ID '{contact_id}' is already used (field 'ContactPersonId').")
    _ref(conn, row, "PrimaryAddressCountryRegionId", "region", errors)
    _ref(conn, row, "PrimaryAddressCountryRegionISOCode", "iso", errors)
    return errors


def quotation_headers(conn: sqlite3.Connection, row: Row) -> list[str]:
    errors: list[str] = []
    _required(row, ["SalesQuotationNumber", "RequestingCustomerAccountNumber"], errors)
    _customer(conn, row, "RequestingCustomerAccountNumber", errors)
    _customer(conn, row, "InvoiceCustomerAccountNumber", errors)
    _ref(conn, row, "CurrencyCode", "currency", errors)
    _ref(conn, row, "LanguageId", "language", errors)
    _ref(conn, row, "DeliveryAddressCountryRegionISOCode", "iso", errors)
    _ref(conn, row, "InvoiceAddressCountryRegionISOCode", "iso", errors)
    return errors


def quotation_lines(conn: sqlite3.Connection, row: Row) -> list[str]:
    errors: list[str] = []
    _required(row, ["SalesQuotationNumber", "ProductNumber"], errors)
    number = row.get("SalesQuotationNumber")
    where = {"dataAreaId": row["dataAreaId"], "SalesQuotationNumber": number}
    if number and not exists(conn, E.QUOTATION_HEADERS, where):
        errors.append(f"Sales quotation '{number}' does not exist (field 'SalesQuotationNumber').")
    product = row.get("ProductNumber")
    if product and not exists(conn, E.RELEASED_PRODUCTS, {"dataAreaId": row["dataAreaId"], "ProductNumber": product}):
        errors.append(
            f"Item number '{product}' is not a released product in company '{row['dataAreaId']}' "
            "(field 'ProductNumber')."
        )
    _ref(conn, row, "SalesUnitSymbol", "unit", errors)
    return errors


def released_products(conn: sqlite3.Connection, row: Row) -> list[str]:
    errors: list[str] = []
    _required(row, ["ProductNumber"], errors)
    _ref(conn, row, "SalesUnitSymbol", "unit", errors)
    _ref(conn, row, "CurrencyCode", "currency", errors)
    return errors


VALIDATORS: dict[str, Callable[[sqlite3.Connection, Row], list[str]]] = {
    E.CUSTOMERS.name: customers,
    E.CONTACTS.name: contacts,
    E.QUOTATION_HEADERS.name: quotation_headers,
    E.QUOTATION_LINES.name: quotation_lines,
    E.RELEASED_PRODUCTS.name: released_products,
}


def validate(conn: sqlite3.Connection, entity: EntitySet, row: Row) -> list[str]:
    rule = VALIDATORS.get(entity.name)
    return rule(conn, row) if rule else []
