"""The initial load of the seeded data, as a user checks it: every sellable ERP product an active, synced
product in the CRM, every account a customer in the ERP (used by the e2e tests and bench/)."""

from __future__ import annotations

from collections.abc import Callable

from tests.support.odata import ODataClient

NOT_STOPPED = "IsSalesProcessingStopped eq Microsoft.Dynamics.DataEntities.NoYes'No'"


def sellable_products(e: ODataClient) -> list[str]:
    """The ERP's sellable item numbers; the seed sets no sell dates, so sellable is "sales not stopped"."""
    rows = e.get_all(
        "ProductDefaultOrderSettings", {"cross-company": "true", "$filter": NOT_STOPPED, "$select": "ItemNumber"}
    )
    return [p["ItemNumber"] for p in rows]


def synced_products(c: ODataClient) -> set[str]:
    """Product numbers p2c wrote into Sales (externally maintained) and published (active)."""
    rows = c.get_all("products", {"$select": "productnumber,statecode,msdynce_ismaintainedexternally"})
    return {p["productnumber"] for p in rows if p["msdynce_ismaintainedexternally"] and p["statecode"] == 0}


def initial_load_done(c: ODataClient, e: ODataClient) -> Callable[[], bool | None]:
    """A probe for ``wait_for``: true once the seed's products and accounts are on the other side."""
    sellable = set(sellable_products(e))
    accounts = {a["accountnumber"] for a in c.get_all("accounts", {"$select": "accountnumber"})}

    def done() -> bool | None:
        customers = {
            r["CustomerAccount"]
            for r in e.get_all("CustomersV3", {"cross-company": "true", "$select": "CustomerAccount"})
        }
        return (sellable <= synced_products(c) and accounts <= customers) or None

    return done
