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


# ---- the kill-under-load tests' accounts: LOAD-00000, LOAD-00001, ... ------------------------------------


def load_batch(start: int, count: int) -> list[tuple[str, dict[str, str]]]:
    """``$batch`` parts creating the load's accounts ``start`` .. ``start + count - 1`` in the CRM."""
    return [
        ("accounts", {"name": f"Load {i:05d}", "accountnumber": f"LOAD-{i:05d}"}) for i in range(start, start + count)
    ]


def rename_every_tenth(c: ODataClient, total: int) -> None:
    """Rename every tenth account of the load in the CRM: the latest name is what the ERP must end with."""
    renamed = c.batch(
        "PATCH",
        [(f"accounts(accountnumber='LOAD-{i:05d}')", {"name": f"Load {i:05d} v2"}) for i in range(0, total, 10)],
    )
    assert set(renamed) == {204}


def load_customers(e: ODataClient) -> list[dict[str, str]]:
    """The load's customers in the ERP: account and name."""
    params = {"$filter": "CustomerAccount eq 'LOAD-*'", "$select": "CustomerAccount,OrganizationName"}
    return e.get_all("CustomersV3", {"cross-company": "true", **params})


def with_latest_names(e: ODataClient, total: int) -> Callable[[], dict[str, str] | None]:
    """A probe for ``wait_for``: the load's customers by account once the ERP holds each of the ``total`` once,
    with its latest name (a customer twice fails at once)."""
    expected = {f"LOAD-{i:05d}": f"Load {i:05d}" + (" v2" if i % 10 == 0 else "") for i in range(total)}

    def final() -> dict[str, str] | None:
        rows = load_customers(e)
        accounts = [r["CustomerAccount"] for r in rows]
        assert len(accounts) == len(set(accounts)), "a customer is in the ERP twice"
        names = {r["CustomerAccount"]: r["OrganizationName"] for r in rows}
        return names if names == expected else None

    return final
