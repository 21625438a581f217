"""Contacts, products and quotes under `p2c up`, as a user checks them in the other system."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from tests.support.cli import flow_statuses, run_p2c
from tests.support.load import sellable_products
from tests.support.odata import ODataClient, crm, erp, wait_for
from tests.support.up import Running

pytestmark = pytest.mark.timeout(240)


def status(p2c_up: Running) -> dict[str, dict[str, Any]]:
    return flow_statuses(p2c_up.bootstrap)


def ref_id(c: ODataClient, entity_set: str, field: str, value: str, key: str) -> str:
    rows = c.get_all(entity_set, {"$filter": f"{field} eq '{value}'", "$select": key})
    return str(rows[0][key])


def test_seeded_contacts_products_and_quotes_reach_the_other_system(p2c_up: Running) -> None:
    c, e = crm(p2c_up.crm_url), erp(p2c_up.erp_url)
    sellable = sellable_products(e)

    def products_missing() -> list[str]:
        crm_products = c.get_all("products", {"$select": "productnumber,msdynce_ismaintainedexternally"})
        external = {p["productnumber"] for p in crm_products if p["msdynce_ismaintainedexternally"]}
        return [n for n in sellable if n not in external]

    wait_for("every sellable product in the CRM", lambda: not products_missing() or None, timeout=60, every=1)

    contacts = c.get_all(
        "contacts", {"$select": "msdynce_contactnumber,msdynce_isactivecustomer,_parentcustomerid_value"}
    )
    accounts = {
        a["accountid"]: a["accountnumber"] for a in c.get_all("accounts", {"$select": "accountid,accountnumber"})
    }
    as_customers = {x["msdynce_contactnumber"] for x in contacts if x["msdynce_isactivecustomer"]}
    as_persons = {
        x["msdynce_contactnumber"]: accounts[x["_parentcustomerid_value"]]
        for x in contacts
        if not x["msdynce_isactivecustomer"] and x["_parentcustomerid_value"] in accounts
    }

    def contacts_missing() -> set[str]:
        people = {
            r["CustomerAccount"]
            for r in e.get_all(
                "CustomersV3",
                {"cross-company": "true", "$filter": "PartyType eq 'Person'", "$select": "CustomerAccount"},
            )
        }
        persons = {
            r["ContactPersonId"]: r["AssociatedContactNumber"]
            for r in e.get_all(
                "CDSContactPersonsV2",
                {"cross-company": "true", "$select": "ContactPersonId,AssociatedContactNumber"},
            )
        }
        wrong = {n for n, parent in as_persons.items() if persons.get(n) != parent}
        return (as_customers - people) | wrong

    wait_for("every routed contact in the ERP", lambda: not contacts_missing() or None, timeout=60, every=1)

    flows = status(p2c_up)
    skipped_contacts = len(contacts) - len(as_customers) - len(as_persons)
    assert flows["contacts"]["skipped"] >= skipped_contacts > 0  # orphans: not synced, and counted

    active = c.get_all("quotes", {"$filter": "statecode eq 1", "$select": "quotenumber,quoteid"})
    headers = {
        h["SalesQuotationNumber"]
        for h in e.get_all("CDSSalesQuotationHeaders", {"cross-company": "true", "$select": "SalesQuotationNumber"})
    }
    synced = [q for q in active if q["quotenumber"] in headers]
    assert synced, "no active quote reached the ERP"
    lines = e.get_all("CDSSalesQuotationLines", {"cross-company": "true", "$select": "SalesQuotationNumber"})
    crm_lines = c.get_all("quotedetails", {"$select": "_quoteid_value"})
    for quote in synced[:20]:
        in_erp = sum(1 for x in lines if x["SalesQuotationNumber"] == quote["quotenumber"])
        assert in_erp == sum(1 for x in crm_lines if x["_quoteid_value"] == quote["quoteid"]), quote["quotenumber"]
    # Every active quote that did not go is accounted for: skipped by a rule, waiting, or dead-lettered.
    quotes = status(p2c_up)["quotes"]
    assert quotes["skipped"] + quotes["waiting"] + quotes["dead_lettered"] >= len(active) - len(synced)


def test_a_quote_created_before_its_account_and_product_exist_in_the_erp(p2c_up: Running) -> None:
    c, e = crm(p2c_up.crm_url), erp(p2c_up.erp_url)
    tag = uuid.uuid4().hex[:6].upper()
    each = ref_id(c, "uoms", "name", "Each", "uomid")
    usd = ref_id(c, "transactioncurrencies", "isocurrencycode", "USD", "transactioncurrencyid")
    account = c.post("accounts", {"name": f"Early Quote {tag}"}).json()
    product = c.post(
        "products",
        {
            "name": f"Widget {tag}",
            "productnumber": f"W-{tag}",
            "defaultuomid@odata.bind": f"/uoms({each})",
            "transactioncurrencyid@odata.bind": f"/transactioncurrencies({usd})",
        },
    ).json()
    # a standard Sales organization creates products in Draft: only a published product can go on a quote
    c.post(f"products({product['productid']})/Microsoft.Dynamics.CRM.PublishProductHierarchy", {})
    quote = c.post(
        "quotes",
        {
            "name": f"Quote {tag}",
            "statecode": 1,
            "customerid_account@odata.bind": f"/accounts({account['accountid']})",
            "transactioncurrencyid@odata.bind": f"/transactioncurrencies({usd})",
        },
    ).json()
    for quantity in (2, 5):
        c.post(
            "quotedetails",
            {
                "quoteid@odata.bind": f"/quotes({quote['quoteid']})",
                "productid@odata.bind": f"/products({product['productid']})",
                "uomid@odata.bind": f"/uoms({each})",
                "quantity": quantity,
                "priceperunit": 10,
            },
        )
    number = quote["quotenumber"]

    def quotation() -> list[dict[str, Any]]:
        return e.get_all(
            "CDSSalesQuotationHeaders", {"cross-company": "true", "$filter": f"SalesQuotationNumber eq '{number}'"}
        )

    time.sleep(3)
    assert not quotation(), "the quote left before its product is maintained in the ERP"
    assert status(p2c_up)["quotes"]["skipped"] + status(p2c_up)["quotes"]["waiting"] > 0

    created = time.monotonic()  # the product arrives: FinOps masters it, the products flow brings it to Sales
    e.post(
        "CDSReleasedDistinctProducts",
        {
            "dataAreaId": "usmf",
            "ProductNumber": f"W-{tag}",
            "ProductName": f"Widget {tag}",
            "SalesUnitSymbol": "ea",
            "SalesPrice": 10,
            "CurrencyCode": "USD",
            "ProductType": "Item",
        },
    )
    header = wait_for("the quotation", quotation, timeout=30)[0]
    print(f"quotation in the ERP {time.monotonic() - created:.2f} s after its product was created there")
    assert header["RequestingCustomerAccountNumber"] == account["accountnumber"]
    lines = e.get_all(
        "CDSSalesQuotationLines", {"cross-company": "true", "$filter": f"SalesQuotationNumber eq '{number}'"}
    )
    assert sorted(
        (x["LineCreationSequenceNumber"], x["ProductNumber"], x["RequestedSalesQuantity"], x["SalesUnitSymbol"])
        for x in lines
    ) == [(1, f"W-{tag}", 2, "ea"), (2, f"W-{tag}", 5, "ea")]

    # change a quantity, add a line, remove a line
    crm_lines = sorted(
        c.get_all(
            "quotedetails",
            {"$filter": f"_quoteid_value eq {quote['quoteid']}", "$select": "quotedetailid,sequencenumber"},
        ),
        key=lambda x: x["sequencenumber"],
    )
    c.patch(f"quotedetails({crm_lines[0]['quotedetailid']})", {"quantity": 7})
    c.post(
        "quotedetails",
        {
            "quoteid@odata.bind": f"/quotes({quote['quoteid']})",
            "productid@odata.bind": f"/products({product['productid']})",
            "uomid@odata.bind": f"/uoms({each})",
            "quantity": 1,
            "priceperunit": 10,
        },
    )
    c.delete(f"quotedetails({crm_lines[1]['quotedetailid']})")

    def erp_lines() -> list[tuple[int, float]] | None:
        rows = e.get_all(
            "CDSSalesQuotationLines", {"cross-company": "true", "$filter": f"SalesQuotationNumber eq '{number}'"}
        )
        found = sorted((x["LineCreationSequenceNumber"], x["RequestedSalesQuantity"]) for x in rows)
        return found if found == [(1, 7), (3, 1)] else None

    wait_for("the changed, added and removed lines", erp_lines, timeout=30)


def contact_of_a_new_account(c: ODataClient, first: str, last: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A new account in Sales and a contact whose company it is: (account, contact)."""
    account = c.post("accounts", {"name": f"Company of {first} {last}"}).json()
    contact = c.post(
        "contacts",
        {
            "firstname": first,
            "lastname": last,
            "parentcustomerid_account@odata.bind": f"/accounts({account['accountid']})",
        },
    ).json()
    return account, contact


def contact_persons(e: ODataClient, number: str) -> list[dict[str, Any]]:
    """The ERP's contact persons that carry the CRM contact number (at most one)."""
    return e.get_all("CDSContactPersonsV2", {"cross-company": "true", "$filter": f"ContactPersonId eq '{number}'"})


def test_a_contact_waits_for_its_account_and_changes_route(p2c_up: Running) -> None:
    c, e = crm(p2c_up.crm_url), erp(p2c_up.erp_url)
    tag = uuid.uuid4().hex[:6].upper()
    account, contact = contact_of_a_new_account(c, "Ada", f"Lovelace {tag}")
    number = contact["msdynce_contactnumber"]

    def person() -> list[dict[str, Any]]:
        return contact_persons(e, number)

    row = wait_for("the contact person", person, timeout=30)[0]
    assert row["AssociatedContactNumber"] == account["accountnumber"] and row["LastName"] == f"Lovelace {tag}"

    c.patch(f"contacts({contact['contactid']})", {"msdynce_isactivecustomer": True})
    customer = wait_for(
        "the contact as a customer",
        lambda: e.get_all("CustomersV3", {"cross-company": "true", "$filter": f"CustomerAccount eq '{number}'"}),
        timeout=30,
    )[0]
    assert customer["PartyType"] == "Person" and customer["PersonLastName"] == f"Lovelace {tag}"
    wait_for("the contact person gone", lambda: not person() or None, timeout=30)


def test_a_product_without_a_price_list_is_dead_lettered_until_one_exists(p2c_up: Running) -> None:
    c, e = crm(p2c_up.crm_url), erp(p2c_up.erp_url)
    tag = uuid.uuid4().hex[:6].upper()
    before = status(p2c_up)["products"]["dead_lettered"]
    e.post(
        "CDSReleasedDistinctProducts",
        {
            "dataAreaId": "usmf",
            "ProductNumber": f"J-{tag}",
            "ProductName": f"Yen Widget {tag}",
            "SalesUnitSymbol": "ea",
            "SalesPrice": 1000,
            "CurrencyCode": "JPY",
            "ProductType": "Item",
        },
    )
    wait_for("the dead letter", lambda: status(p2c_up)["products"]["dead_lettered"] > before, timeout=30, every=1)
    jpy = ref_id(c, "transactioncurrencies", "isocurrencycode", "JPY", "transactioncurrencyid")
    c.post(
        "pricelevels",
        {"name": f"japan {tag.lower()}", "transactioncurrencyid@odata.bind": f"/transactioncurrencies({jpy})"},
    )
    # The sink re-reads price lists on a miss at most once a second (reference_reload): a retry a second after
    # the price list exists always finds it.
    time.sleep(1.1)
    run_p2c("dlq", "retry", "--flow", "products", "--bootstrap-servers", p2c_up.bootstrap)
    wait_for(
        "the product in the CRM",
        lambda: c.get_all("products", {"$filter": f"productnumber eq 'J-{tag}'", "$select": "productid"}),
        timeout=30,
    )


def test_a_product_created_changed_stopped_and_deleted_in_the_erp_reaches_sales(p2c_up: Running) -> None:
    c, e = crm(p2c_up.crm_url), erp(p2c_up.erp_url)
    tag = uuid.uuid4().hex[:6].upper()
    kept, gone = f"L-{tag}", f"G-{tag}"
    for number in (kept, gone):
        body = {"ProductName": f"Lifecycle {number}", "SalesUnitSymbol": "ea", "SalesPrice": 5, "CurrencyCode": "USD"}
        e.post("CDSReleasedDistinctProducts", {"dataAreaId": "usmf", "ProductNumber": number, **body})

    def in_sales(number: str) -> dict[str, Any] | None:
        flt = {"$filter": f"productnumber eq '{number}'", "$select": "name,statecode,msdynce_ismaintainedexternally"}
        rows = c.get_all("products", flt)
        return rows[0] if rows else None

    created = wait_for("the products in Sales", lambda: (p := in_sales(kept)) and in_sales(gone) and p, timeout=30)
    assert created["statecode"] == 0 and created["msdynce_ismaintainedexternally"] is True

    e.patch(f"CDSReleasedDistinctProducts(dataAreaId='usmf',ProductNumber='{kept}')", {"ProductName": "Renamed"})
    wait_for("the new name in Sales", lambda: (p := in_sales(kept)) and p["name"] == "Renamed" and p, timeout=30)

    e.patch(f"ProductDefaultOrderSettings(dataAreaId='usmf',ItemNumber='{kept}')", {"IsSalesProcessingStopped": "Yes"})
    wait_for("the stopped product retired", lambda: (p := in_sales(kept)) and p["statecode"] == 1 and p, timeout=30)

    e.delete(f"CDSReleasedDistinctProducts(dataAreaId='usmf',ProductNumber='{gone}')")
    wait_for("the deleted product retired", lambda: (p := in_sales(gone)) and p["statecode"] == 1 and p, timeout=30)


def test_a_contact_person_created_changed_and_deleted(p2c_up: Running) -> None:
    c, e = crm(p2c_up.crm_url), erp(p2c_up.erp_url)
    tag = uuid.uuid4().hex[:6].upper()
    _, contact = contact_of_a_new_account(c, "Grace", f"Hopper {tag}")
    number = contact["msdynce_contactnumber"]

    def person() -> list[dict[str, Any]]:
        return contact_persons(e, number)

    row = wait_for("the contact person", person, timeout=30)[0]
    assert row["ContactPersonPartyNumber"] and row["AssociatedContactType"] == "Customer"
    c.patch(f"contacts({contact['contactid']})", {"jobtitle": "Rear Admiral"})
    wait_for(
        "the changed contact person",
        lambda: (p := person()) and p[0]["EmploymentProfession"] == "Rear Admiral" and p,
        timeout=30,
    )
    c.delete(f"contacts({contact['contactid']})")
    wait_for("the contact person gone", lambda: not person() or None, timeout=30)
