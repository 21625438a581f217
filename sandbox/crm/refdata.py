"""CRM reference data, created whenever the store is opened: currencies, units, unit group, price lists.

Reference rows get stable GUIDs (uuid5 of their name), so seed data and tests can refer to them.
"""

from __future__ import annotations

import uuid
from typing import Any

from p2c.sandbox.crm import entities as E
from p2c.sandbox.crm.store import SEED_USER_ID, USER_NAMESPACE, CrmStore
from p2c.sandbox.odata.model import EntitySet
from p2c.sandbox.odata.sqlite import fetch_one

SYSTEM_USER_ID = str(uuid.uuid5(USER_NAMESPACE, "user:system"))

CURRENCIES = [  # iso, name, symbol, exchange rate to the base currency (USD)
    ("USD", "US Dollar", "$", 1.0),
    ("EUR", "Euro", "€", 0.92),
    ("GBP", "Pound Sterling", "£", 0.79),
    ("CAD", "Canadian Dollar", "CA$", 1.36),
    ("JPY", "Yen", "¥", 151.0),
    ("CHF", "Swiss Franc", "CHF", 0.9),
    ("DKK", "Danish Krone", "kr", 6.86),
]
UNIT_GROUP = "Default Unit"
UNITS = ["Primary Unit", "Each", "Piece", "Box", "Dozen", "Hour", "Kilogram", "Meter", "Set"]
PRICE_LISTS = [("standard", "USD"), ("europe", "EUR"), ("uk", "GBP"), ("canada", "CAD")]


def ref_id(kind: str, name: str) -> str:
    """Stable GUID of a reference row."""
    return str(uuid.uuid5(USER_NAMESPACE, f"{kind}:{name.lower()}"))


def _ensure(store: CrmStore, entity: EntitySet, cols: dict[str, Any]) -> None:
    pk = entity.key[0]
    if fetch_one(store.conn, entity, {pk: cols[pk]}) is None:
        store.insert_row(entity, cols, SYSTEM_USER_ID)


def ensure_reference_data(store: CrmStore) -> None:
    store.ensure_user(SYSTEM_USER_ID, "SYSTEM", None)
    store.ensure_user(SEED_USER_ID, "Sales Admin", None)
    with store.db.transaction():
        for iso, name, symbol, rate in CURRENCIES:
            _ensure(
                store,
                E.TRANSACTIONCURRENCIES,
                {
                    "transactioncurrencyid": ref_id("currency", iso),
                    "isocurrencycode": iso,
                    "currencyname": name,
                    "currencysymbol": symbol,
                    "exchangerate": rate,
                    "currencyprecision": 0 if iso == "JPY" else 2,
                },
            )
        schedule = ref_id("uomschedule", UNIT_GROUP)
        _ensure(store, E.UOMSCHEDULES, {"uomscheduleid": schedule, "name": UNIT_GROUP, "baseuomname": UNITS[0]})
        base = ref_id("uom", UNITS[0])
        for name in UNITS:
            _ensure(
                store,
                E.UOMS,
                {
                    "uomid": ref_id("uom", name),
                    "name": name,
                    "_uomscheduleid_value": schedule,
                    "_baseuom_value": None if name == UNITS[0] else base,
                    "quantity": 12.0 if name == "Dozen" else 1.0,
                    "isschedulebaseuom": 1 if name == UNITS[0] else 0,
                },
            )
        for name, iso in PRICE_LISTS:
            _ensure(
                store,
                E.PRICELEVELS,
                {
                    "pricelevelid": ref_id("pricelevel", name),
                    "name": name,
                    "_transactioncurrencyid_value": ref_id("currency", iso),
                    "begindate": "2020-01-01T00:00:00.000Z",  # a DateTimeOffset column
                },
            )
