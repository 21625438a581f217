"""The initial load of the seeded data, as a user checks it: every sellable ERP product an active, synced
product in the CRM, every account a customer in the ERP (used by the e2e tests and bench/)."""

from __future__ import annotations

from collections.abc import Callable

from tests.support.odata import ODataClient


def initial_load_done(c: ODataClient, e: ODataClient) -> Callable[[], bool | None]:
    """A probe for ``wait_for``: true once the seed's products and accounts are on the other side."""
    sellable = {
        p["ProductNumber"]
        for p in e.get_all(
            "CDSReleasedDistinctProducts",
            {"cross-company": "true", "$filter": "IsSellable eq true", "$select": "ProductNumber"},
        )
    }
    accounts = {a["accountnumber"] for a in c.get_all("accounts", {"$select": "accountnumber"})}

    def done() -> bool | None:
        products = c.get_all("products", {"$select": "productnumber,statecode,p2c_sourceversion"})
        written = {p["productnumber"] for p in products if p["p2c_sourceversion"] is not None and p["statecode"] == 0}
        customers = {
            r["CustomerAccount"]
            for r in e.get_all("CustomersV3", {"cross-company": "true", "$select": "CustomerAccount"})
        }
        return (sellable <= written and accounts <= customers) or None

    return done
