"""The accounts flow as a user meets it: `p2c up`, then accounts written in the CRM show up in the ERP."""

from __future__ import annotations

import os
import signal
from typing import Any

import pytest

from tests.support.cli import dead_letters, flow_statuses
from tests.support.load import load_batch, load_customers, rename_every_tenth, with_latest_names
from tests.support.odata import ODataClient, crm, erp, wait_for
from tests.support.up import Running

pytestmark = pytest.mark.timeout(240)


def customer(client: ODataClient, account_number: str) -> dict[str, Any] | None:
    rows = client.get_all("CustomersV3", {"cross-company": "true", "$filter": f"CustomerAccount eq '{account_number}'"})
    return rows[0] if rows else None


def test_every_seeded_account_is_a_customer_in_the_erp(p2c_up: Running) -> None:
    accounts = crm(p2c_up.crm_url).get_all("accounts", {"$select": "accountnumber,name"})
    assert len(accounts) >= 100
    e = erp(p2c_up.erp_url)

    def missing() -> list[str]:
        customers = e.get_all("CustomersV3", {"cross-company": "true", "$select": "CustomerAccount,OrganizationName"})
        names = {c["CustomerAccount"]: c["OrganizationName"] for c in customers}
        return [a["accountnumber"] for a in accounts if names.get(a["accountnumber"]) != a["name"].strip()[:100]]

    wait_for("every seeded account in CustomersV3", lambda: not missing() or None, timeout=60, every=0.5)


def test_an_account_created_changed_and_deleted_in_the_crm(p2c_up: Running) -> None:
    c, e = crm(p2c_up.crm_url), erp(p2c_up.erp_url)
    created = c.post(
        "accounts",
        {
            "name": "Fabrikam Test",
            "telephone1": "+1 555 0100",
            "address1_country": "United States",
            "address1_city": "Redmond",
            "emailaddress1": "info@fabrikam.example",
        },
    ).json()
    number = created["accountnumber"]
    row = wait_for("the new customer", lambda: customer(e, number), timeout=30)
    assert row["OrganizationName"] == "Fabrikam Test"
    assert row["PrimaryContactPhone"] == "+1 555 0100"
    assert row["PrimaryContactEmail"] == "info@fabrikam.example"
    assert row["DeliveryAddressCity"] == "Redmond"
    assert row["DeliveryAddressCountryRegionISOCode"] == "US"
    assert (row["dataAreaId"], row["PartyType"], row["CustomerGroupId"], row["LanguageId"]) == (
        "usmf",
        "Organization",
        "10",
        "en-us",
    )
    assert row["IsExternallyMaintained"] == "Yes"

    # renamed, a new phone, and the e-mail and city cleared: cleared in the ERP too (not left as they were)
    change = {"name": "Fabrikam Renamed", "telephone1": "+1 555 0199", "emailaddress1": None, "address1_city": None}
    c.patch(f"accounts({created['accountid']})", change)
    wait_for(
        "the renamed customer, its e-mail and city cleared",
        lambda: (
            (r := customer(e, number))
            and r["OrganizationName"] == "Fabrikam Renamed"
            and r["PrimaryContactPhone"] == "+1 555 0199"
            and (r["PrimaryContactEmail"], r["DeliveryAddressCity"]) == ("", "")
        ),
        timeout=30,
    )

    c.delete(f"accounts({created['accountid']})")
    # FinOps rarely allows deleting a customer with history: p2c blocks it for all transactions instead.
    wait_for("the blocked customer", lambda: (r := customer(e, number)) and r["OnHoldStatus"] == "All", timeout=30)


def test_an_account_that_cannot_be_mapped_is_dead_lettered_and_the_flow_goes_on(p2c_up: Running) -> None:
    c, e = crm(p2c_up.crm_url), erp(p2c_up.erp_url)
    bad = c.post("accounts", {"name": "Atlantis Trading", "address1_country": "Atlantis"}).json()
    good = c.post("accounts", {"name": "After Atlantis", "address1_country": "Germany"}).json()
    row = wait_for("the account after the bad one", lambda: customer(e, good["accountnumber"]), timeout=30)
    assert row["DeliveryAddressCountryRegionISOCode"] == "DE"
    assert customer(e, bad["accountnumber"]) is None

    def dead_letter() -> dict[str, Any] | None:
        letters = dead_letters(p2c_up.bootstrap, "accounts")
        return next((x for x in letters if x["key"] == bad["accountid"]), None)

    letter = wait_for("the dead letter", dead_letter, timeout=30, every=0.5)
    assert letter["field"] == "address1_country" and "Atlantis" in letter["reason"]
    assert flow_status(p2c_up, "accounts")["dead_lettered"] >= 1


def flow_status(p2c_up: Running, flow: str) -> dict[str, Any]:
    return flow_statuses(p2c_up.bootstrap)[flow]


def test_status_counts_the_accounts_in_and_written(p2c_up: Running) -> None:
    accounts = crm(p2c_up.crm_url).get_all("accounts", {"$select": "accountid"})
    status = wait_for(
        "status to count every account",
        lambda: (s := flow_status(p2c_up, "accounts"))["written"] + s["dead_lettered"] >= len(accounts) and s,
        timeout=30,
        every=1.0,
    )
    assert status["events_in"] >= len(accounts)


def test_killing_the_sink_and_the_streams_worker_mid_load_loses_nothing(p2c_up: Running) -> None:
    """5,000 new accounts; the sink and the stream worker are SIGKILLed while they flow, and `p2c up` restarts
    them. In the end every account is exactly one customer, with its latest values."""
    c, e = crm(p2c_up.crm_url), erp(p2c_up.erp_url)
    total, batch = 5000, 1000
    for start in range(0, total, batch):
        assert c.batch("POST", load_batch(start, batch)) == [204] * batch
        if start == 0:
            wait_for("the load to reach the ERP", lambda: load_customers(e) or None, timeout=30, every=0.05)
            os.kill(p2c_up.pid("sink-erp"), signal.SIGKILL)
        if start == 2 * batch:
            os.kill(p2c_up.pid("streams"), signal.SIGKILL)
    rename_every_tenth(c, total)
    names = wait_for("all 5,000 customers with their latest names", with_latest_names(e, total), timeout=180, every=1.0)
    assert len(names) == total
    out = (p2c_up.data_dir / "p2c-up.out").read_text()
    assert "sink-erp restarted" in out and "streams restarted" in out
