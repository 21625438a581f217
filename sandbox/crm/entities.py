"""Dataverse tables the CRM sandbox serves, with the column names of the real Web API.

Made from the real metadata by :mod:`p2c.sandbox.crm.tables`; this module names them for the store and the
service. Alternate keys are not part of a table here: a tenant has the keys its makers created, kept by
:mod:`p2c.sandbox.crm.customization`.
"""

from __future__ import annotations

from p2c.sandbox.crm.tables import tables
from p2c.sandbox.odata.model import EntitySet

ACCOUNT, CONTACT, PRODUCT, QUOTE, QUOTEDETAIL = "account", "contact", "product", "quote", "quotedetail"
CURRENCY, UOM, UOMSCHEDULE, PRICELEVEL, PRODUCTPRICELEVEL, SYSTEMUSER = (
    "transactioncurrency",
    "uom",
    "uomschedule",
    "pricelevel",
    "productpricelevel",
    "systemuser",
)


def _entity(logical: str) -> EntitySet:
    return tables()[logical].entity


ACCOUNTS = _entity(ACCOUNT)
CONTACTS = _entity(CONTACT)
PRODUCTS = _entity(PRODUCT)
QUOTES = _entity(QUOTE)
QUOTEDETAILS = _entity(QUOTEDETAIL)
TRANSACTIONCURRENCIES = _entity(CURRENCY)
UOMSCHEDULES = _entity(UOMSCHEDULE)
UOMS = _entity(UOM)
PRICELEVELS = _entity(PRICELEVEL)
PRODUCTPRICELEVELS = _entity(PRODUCTPRICELEVEL)
SYSTEMUSERS = _entity(SYSTEMUSER)

ALL: tuple[EntitySet, ...] = (
    ACCOUNTS,
    CONTACTS,
    PRODUCTS,
    QUOTES,
    QUOTEDETAILS,
    TRANSACTIONCURRENCIES,
    UOMSCHEDULES,
    UOMS,
    PRICELEVELS,
    PRODUCTPRICELEVELS,
    SYSTEMUSERS,
)
BY_SET = {e.name: e for e in ALL}
BY_LOGICAL = {e.logical_name: e for e in ALL}

# Generated numbers: (column, prefix, counter start) of the P2C number sequences.
NUMBERS = {
    "accounts": ("accountnumber", "ACC", 1000),
    "contacts": ("msdynce_contactnumber", "CON", 1000),
    "quotes": ("quotenumber", "QUO", 1000),
}
