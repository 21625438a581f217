"""Sales as it is, under `p2c up`: a product synced from the ERP is active (published) and can go on a quote; a
revised quote updates the ERP quotation instead of creating or deleting one, and deleting the old revision leaves
the live revision's quotation alone."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from tests.e2e.conftest import Running
from tests.support.odata import crm, erp, wait_for

pytestmark = pytest.mark.timeout(240)


def one(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    return rows[0] if len(rows) == 1 else None


def test_a_synced_product_is_active_and_a_revised_quote_updates_its_quotation(p2c_up: Running) -> None:
    c, e = crm(p2c_up.crm_url), erp(p2c_up.erp_url)
    tag = uuid.uuid4().hex[:6].upper()
    e.post(
        "CDSReleasedDistinctProducts",
        {
            "dataAreaId": "usmf",
            "ProductNumber": f"R-{tag}",
            "ProductName": f"Revised widget {tag}",
            "SalesUnitSymbol": "ea",
            "SalesPrice": 12,
            "CurrencyCode": "USD",
            "ProductType": "Item",
        },
    )
    product = wait_for(
        "the product in Sales",
        lambda: one(
            c.get_all("products", {"$filter": f"productnumber eq 'R-{tag}'", "$select": "productid,statecode"})
        ),
        timeout=30,
    )
    assert product["statecode"] == 0, "a synced product is published (Active), not left in Draft"

    each = c.get_all("uoms", {"$filter": "name eq 'Each'", "$select": "uomid"})[0]["uomid"]
    account = c.post("accounts", {"name": f"Revision customer {tag}"}).json()
    quote = c.post(
        "quotes",
        {"name": f"Quote {tag}", "customerid_account@odata.bind": f"/accounts({account['accountid']})"},
    ).json()
    c.post(  # only an active product can be added to a quote: this one can
        "quotedetails",
        {
            "quoteid@odata.bind": f"/quotes({quote['quoteid']})",
            "productid@odata.bind": f"/products({product['productid']})",
            "uomid@odata.bind": f"/uoms({each})",
            "quantity": 2,
            "priceperunit": 12,
        },
    )
    c.patch(f"quotes({quote['quoteid']})", {"statecode": 1, "statuscode": 2})  # activate
    number = quote["quotenumber"]

    def quotation_lines() -> list[tuple[int, float]]:
        rows = e.get_all(
            "CDSSalesQuotationLines", {"cross-company": "true", "$filter": f"SalesQuotationNumber eq '{number}'"}
        )
        return sorted((x["LineCreationSequenceNumber"], x["RequestedSalesQuantity"]) for x in rows)

    def headers() -> int:
        return len(
            e.get_all(
                "CDSSalesQuotationHeaders",
                {"cross-company": "true", "$filter": f"SalesQuotationNumber eq '{number}'"},
            )
        )

    wait_for("the quotation", lambda: quotation_lines() == [(1, 2)] or None, timeout=30)

    revision = c.post("ReviseQuote", {"QuoteId": quote["quoteid"], "ColumnSet": {"AllColumns": True}}).json()
    assert (revision["quotenumber"], revision["revisionnumber"], revision["statecode"]) == (number, 1, 0)
    [line] = c.get_all("quotedetails", {"$filter": f"_quoteid_value eq {revision['quoteid']}"})
    c.patch(f"quotedetails({line['quotedetailid']})", {"quantity": 9})
    c.patch(f"quotes({revision['quoteid']})", {"statecode": 1, "statuscode": 2})

    seen: list[int] = []

    def updated() -> bool | None:
        seen.append(headers())
        return quotation_lines() == [(1, 9)] or None

    wait_for("the quotation updated by the live revision", updated, timeout=30, every=0.1)
    assert set(seen) == {1}, "the quotation was deleted or doubled on the way"

    c.delete(f"quotes({quote['quoteid']})")  # the old revision
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline:
        assert headers() == 1 and quotation_lines() == [(1, 9)], "deleting the old revision touched the quotation"
        time.sleep(0.2)
