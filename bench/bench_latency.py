"""End-to-end latency against a running `p2c up`: how long until a change in one system is in the other.

    p2c up &                      # wait for "ready"
    python bench/bench_latency.py [--crm-url http://127.0.0.1:8701] [--erp-url http://127.0.0.1:8702] [--n 20]

Prints p50/p90/max for: an account created in the CRM until its customer is in the ERP; a name and phone
change until the customer shows them; a quote whose product is not yet maintained in FinOps, from the moment
the product is created in FinOps until the quotation (header and lines) is in the ERP; and ERP -> CRM through
the ERP source's snapshot mode (the only change detection a standard FinOps environment allows over OData): a
product created, renamed, made unsellable (sales stopped) and deleted in FinOps until Sales shows it.
``--what erp-to-crm`` runs only the last, ``--what accounts`` only the first two. ``--idle S`` waits S seconds
before each account, so that every change comes after a quiet spell: the streams worker's fetches wait longer
after 10 s without a record (``p2c.streams.fetch_wait``), and this measures what that costs the first change.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.odata import ODataClient, crm, erp, wait_for


def customer(e: ODataClient, number: str, **expected: str) -> bool:
    rows = e.get_all("CustomersV3", {"cross-company": "true", "$filter": f"CustomerAccount eq '{number}'"})
    return bool(rows) and all(rows[0].get(k) == v for k, v in expected.items())


def timed(probe: object, start: float) -> float:
    wait_for("the change", probe, timeout=30, every=0.01)  # type: ignore[arg-type]
    return time.monotonic() - start


def quote_latency(c: ODataClient, e: ODataClient, each: str, usd: str) -> float:
    tag = uuid.uuid4().hex[:6].upper()
    account = c.post("accounts", {"name": f"Bench {tag}"}).json()
    product = c.post(
        "products",
        {
            "name": f"Bench {tag}",
            "productnumber": f"B-{tag}",
            "defaultuomid@odata.bind": f"/uoms({each})",
            "transactioncurrencyid@odata.bind": f"/transactioncurrencies({usd})",
        },
    ).json()
    quote = c.post(
        "quotes",
        {
            "name": f"Bench {tag}",
            "statecode": 1,
            "customerid_account@odata.bind": f"/accounts({account['accountid']})",
            "transactioncurrencyid@odata.bind": f"/transactioncurrencies({usd})",
        },
    ).json()
    c.post(
        "quotedetails",
        {
            "quoteid@odata.bind": f"/quotes({quote['quoteid']})",
            "productid@odata.bind": f"/products({product['productid']})",
            "uomid@odata.bind": f"/uoms({each})",
            "quantity": 1,
            "priceperunit": 1,
        },
    )
    time.sleep(2)  # let the account reach the ERP: the product is the last dependency
    start = time.monotonic()
    e.post(
        "CDSReleasedDistinctProducts",
        {
            "dataAreaId": "usmf",
            "ProductNumber": f"B-{tag}",
            "ProductName": f"Bench {tag}",
            "SalesUnitSymbol": "ea",
            "SalesPrice": 1,
            "CurrencyCode": "USD",
            "ProductType": "Item",
        },
    )
    number = quote["quotenumber"]
    return timed(
        lambda: e.get_all(
            "CDSSalesQuotationLines", {"cross-company": "true", "$filter": f"SalesQuotationNumber eq '{number}'"}
        ),
        start,
    )


def report(name: str, samples: list[float]) -> None:
    ordered = sorted(samples)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    print(
        f"{name:<40} n={len(samples):<3} p50 {statistics.median(samples):.3f} s  p90 {p90:.3f} s  "
        f"max {max(samples):.3f} s"
    )


def sales_product(c: ODataClient, number: str) -> dict[str, object] | None:
    rows = c.get_all("products", {"$filter": f"productnumber eq '{number}'", "$select": "name,statecode"})
    return rows[0] if rows else None


def product_lifecycle(c: ODataClient, e: ODataClient, i: int) -> dict[str, float]:
    """Seconds until Sales shows a product created, renamed, stopped and (after a restart) deleted in FinOps."""
    number = f"S-{uuid.uuid4().hex[:6].upper()}"
    product = f"CDSReleasedDistinctProducts(dataAreaId='usmf',ProductNumber='{number}')"
    settings = f"ProductDefaultOrderSettings(dataAreaId='usmf',ItemNumber='{number}')"
    body = {"ProductName": f"Snap {i}", "SalesUnitSymbol": "ea", "SalesPrice": 3, "CurrencyCode": "USD"}
    out: dict[str, float] = {}
    start = time.monotonic()
    e.post("CDSReleasedDistinctProducts", {"dataAreaId": "usmf", "ProductNumber": number, **body})
    out["created"] = timed(lambda: sales_product(c, number), start)
    start = time.monotonic()
    e.patch(product, {"ProductName": f"Snap {i} renamed"})
    out["renamed"] = timed(lambda: (p := sales_product(c, number)) and p["name"] == f"Snap {i} renamed", start)
    start = time.monotonic()
    e.patch(settings, {"IsSalesProcessingStopped": "Yes"})
    out["stopped"] = timed(lambda: (p := sales_product(c, number)) and p["statecode"] == 1, start)
    e.patch(settings, {"IsSalesProcessingStopped": "No"})
    wait_for("sellable again", lambda: (p := sales_product(c, number)) and p["statecode"] == 0, timeout=30)
    start = time.monotonic()
    e.delete(product)
    out["deleted"] = timed(lambda: (p := sales_product(c, number)) and p["statecode"] == 1, start)
    return out


def erp_to_crm(c: ODataClient, e: ODataClient, n: int) -> None:
    """The starts are spread over the snapshot cycle."""
    measures: dict[str, list[float]] = {"created": [], "renamed": [], "stopped": [], "deleted": []}
    for i in range(n):
        time.sleep(0.173 * (i % 7))
        for name, seconds in product_lifecycle(c, e, i).items():
            measures[name].append(seconds)
        print(f"\r{i + 1}/{n} products", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    report("ERP product created -> in Sales (snapshot)", measures["created"])
    report("ERP product renamed -> renamed in Sales", measures["renamed"])
    report("ERP sales stopped -> retired in Sales", measures["stopped"])
    report("ERP product deleted -> retired in Sales", measures["deleted"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crm-url", default="http://127.0.0.1:8701")
    parser.add_argument("--erp-url", default="http://127.0.0.1:8702")
    parser.add_argument("--n", type=int, default=20, help="samples per measure")
    parser.add_argument("--what", choices=["all", "accounts", "erp-to-crm"], default="all")
    parser.add_argument("--idle", type=float, default=0.0, help="seconds of quiet before each account")
    args = parser.parse_args()
    c, e = crm(args.crm_url), erp(args.erp_url)
    if args.what == "erp-to-crm":
        erp_to_crm(c, e, args.n)
        return
    created, changed = [], []
    for i in range(args.n):
        time.sleep(args.idle + 0.137 * (i % 7))  # spread the starts over the source's poll cycle
        start = time.monotonic()
        account = c.post("accounts", {"name": f"Latency {i}"}).json()
        number = account["accountnumber"]
        created.append(timed(lambda n=number: customer(e, n), start))
        start = time.monotonic()
        c.patch(f"accounts({account['accountid']})", {"name": f"Latency {i} renamed", "telephone1": f"+1 555 {i:04d}"})
        changed.append(
            timed(
                lambda n=number, i=i: customer(
                    e, n, OrganizationName=f"Latency {i} renamed", PrimaryContactPhone=f"+1 555 {i:04d}"
                ),
                start,
            )
        )
        print(f"\r{i + 1}/{args.n} accounts", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    report("account created -> customer in ERP", created)
    report("account changed -> customer changed", changed)
    if args.what == "accounts":
        return
    each = c.get_all("uoms", {"$filter": "name eq 'Each'", "$select": "uomid"})[0]["uomid"]
    usd = c.get_all(
        "transactioncurrencies", {"$filter": "isocurrencycode eq 'USD'", "$select": "transactioncurrencyid"}
    )[0]["transactioncurrencyid"]
    quotes = []
    for i in range(max(3, args.n // 4)):
        quotes.append(quote_latency(c, e, each, usd))
        print(f"\r{i + 1}/{max(3, args.n // 4)} quotes", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    report("product created in ERP -> quotation", quotes)
    erp_to_crm(c, e, max(3, args.n // 2))


if __name__ == "__main__":
    main()
