"""p2c reconcile's logic without the services: what differs, what a flow expects, what it skips or waits on."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from p2c import flows, topics
from p2c.connectors.core.http import ODataClient
from p2c.control.reconcile import compare
from p2c.control.reconcile.compare import DIFFERS, DUPLICATE, EXTRA, MISSING
from p2c.control.reconcile.expected import Expectations, load_templates
from p2c.control.reconcile.run import Reconcile, Systems
from p2c.control.reconcile.sources import Rejects, encode
from p2c.control.reconcile.spill import Spill
from p2c.control.reconcile.targets import tables_of
from p2c.streams import samples


@pytest.mark.parametrize(
    ("expected", "actual"),
    [
        ("A", "A"),
        (Decimal("12.5000"), 12.5),
        (3, 3.0),
        (date(2020, 1, 1), "2020-01-01T00:00:00Z"),
        ("2024-05-01T10:00:00+00:00", "2024-05-01T10:00:00Z"),
        (True, True),
    ],
)
def test_values_the_target_holds_as_sent_are_the_same(expected: Any, actual: Any) -> None:
    assert compare.same(expected, actual)


@pytest.mark.parametrize(
    ("expected", "actual"),
    [("A", "a"), ("A", None), (Decimal("12.5"), 12.51), (True, 1), (date(2020, 1, 1), "2020-01-02T00:00:00Z")],
)
def test_values_that_differ(expected: Any, actual: Any) -> None:
    assert not compare.same(expected, actual)


def test_field_differences_leave_out_blank_expectations_and_keys() -> None:
    expected = {"dataAreaId": "usmf", "Phone": "+1", "Fax": None, "Name": "Contoso"}
    actual = {"dataAreaId": "USMF", "Phone": "+2", "Fax": "+3", "Name": "Contoso"}
    found = compare.field_differences(expected, actual, skip=["dataAreaId"])
    assert found == (compare.FieldDifference("Phone", "+1", "+2"),)


def test_a_row_is_a_flows_when_it_carries_its_constants_and_retired_in_the_delete_state() -> None:
    row = {"PartyType": "Organization", "IsExternallyMaintained": "Yes", "OnHoldStatus": "No"}
    assert compare.owned(row, {"PartyType": "Organization", "IsExternallyMaintained": "Yes"})
    assert not compare.owned(row, {"PartyType": "Person"})
    assert not compare.retired(row, {"OnHoldStatus": "All"})
    assert compare.retired({**row, "OnHoldStatus": "All"}, {"OnHoldStatus": "All"})
    assert not compare.retired(row, {})  # a delete that removes rows leaves none to call retired


def _unreachable() -> ODataClient:
    raise AssertionError("no service is asked in this test")


@pytest.fixture
def reconcile() -> Iterator[Reconcile]:
    rec = Reconcile(Systems(_unreachable, _unreachable))
    yield rec
    rec.spill.close()


def _customer(number: str, **fields: Any) -> dict[str, Any]:
    return {"dataAreaId": "usmf", "CustomerAccount": number, "PartyType": "Organization", **fields}


def test_missing_extra_and_differing_rows_are_named_by_key(reconcile: Reconcile) -> None:
    [table] = tables_of(topics.ERP_CUSTOMERS.name)
    accounts = flows.by_name("accounts")
    [template] = load_templates(accounts, "usmf")
    base = {"IsExternallyMaintained": "Yes", "OnHoldStatus": "No"}
    expect = [
        ("ACC-1", {"OrganizationName": "Same"}),
        ("ACC-2", {"OrganizationName": "Renamed", "PrimaryContactPhone": "+1 555"}),
        ("ACC-3", {"OrganizationName": "Gone"}),
    ]
    reconcile.spill.expect(
        ("accounts", table.entity_set, table.key(_customer(n)), None, f"src-{n}", 1, _customer(n, **f))
        for n, f in expect
    )
    actual = [
        _customer("acc-1", OrganizationName="Same", **base),  # keys compare without case
        _customer("ACC-2", OrganizationName="Old name", PrimaryContactPhone="+1 555", **base),
        _customer("ACC-4", **base),  # p2c's, not expected: extra
        _customer("ACC-5", **{**base, "OnHoldStatus": "All"}),  # deleted in the CRM: blocked, as it should be
        _customer("ACC-6", **{**base, "IsExternallyMaintained": "No"}),  # FinOps's own customer
        _customer("CON-1", **{**base, "PartyType": "Person"}),  # the contacts flow's
        _customer("ACC-1", OrganizationName="Same", **base),  # twice: a duplicate
    ]
    reconcile.spill.add_actual(table.entity_set, ((table.key(r), None, r) for r in actual))
    found = {(d.key, d.kind): d for d in reconcile._compare(accounts, table, template, None)}
    assert set(found) == {
        ("usmf|ACC-2", DIFFERS),
        ("usmf|ACC-3", MISSING),
        ("usmf|ACC-4", EXTRA),
        ("usmf|acc-1", DUPLICATE),  # named as the first row read names it
    }
    renamed = compare.FieldDifference("OrganizationName", "Renamed", "Old name")
    assert found[("usmf|ACC-2", DIFFERS)].fields == (renamed,)
    assert found[("usmf|ACC-3", MISSING)].source_id == "src-ACC-3"


def _event(topic: str, key: str, change: dict[str, Any]) -> tuple[str, str, bytes]:
    return topic, key, encode(topic, change)


def _contact(n: int, **fields: Any) -> dict[str, Any]:
    return {
        "contactid": str(uuid.UUID(int=100 + n)),
        "msdynce_contactnumber": f"CON-{n}",
        "lastname": f"Person {n}",
        "versionnumber": 2000 + n,
        **fields,
    }


def test_a_joining_flow_expects_what_its_logic_writes_and_counts_what_waits_or_is_skipped() -> None:
    spill = Spill()
    try:
        account = samples.account_row(1)
        spill.add_events([_event(topics.CRM_ACCOUNTS.name, account["accountid"], samples.change("r", account, 1001))])
        parent = {"_parentcustomerid_value": account["accountid"], "parentcustomerid_type": "account"}
        unknown = {"_parentcustomerid_value": str(uuid.UUID(int=999)), "parentcustomerid_type": "account"}
        contacts = [
            _contact(1, msdynce_isactivecustomer=True),  # a person customer
            _contact(2, msdynce_isactivecustomer=False, **parent),  # a contact person of account 1's customer
            _contact(3, msdynce_isactivecustomer=False, **unknown),  # waits on an account the CRM lacks
            _contact(4, msdynce_isactivecustomer=False),  # routed nowhere: skipped
            _contact(5, msdynce_isactivecustomer=True, msdynce_contactnumber=None),  # required: rejected
        ]
        topic = topics.CRM_CONTACTS.name
        spill.add_events(
            _event(topic, c["contactid"], samples.change("r", c, c["versionnumber"], entity="contacts"))
            for c in contacts
        )
        flow = flows.by_name("contacts")
        rejects = Rejects()
        expectations = Expectations(flow, load_templates(flow, "usmf"), spill, rejects, "usmf")
        expectations.run(lambda *_: None)
        rows = {
            (target, key): record
            for target in ("CustomersV3", "CDSContactPersonsV2")
            for key, _source, record, _row in spill.pairs("contacts", target)
        }
        assert set(rows) == {("CustomersV3", "usmf|con-1"), ("CDSContactPersonsV2", "usmf|con-2")}
        assert rows[("CDSContactPersonsV2", "usmf|con-2")]["AssociatedContactNumber"] == account["accountnumber"]
        assert expectations.waiting == {"account": 1}
        assert expectations.skipped == {"not routed": 1}
        assert rejects.count == 1 and "msdynce_contactnumber" in rejects.samples[0]["reason"]
    finally:
        spill.close()
