"""Contact persons and quotations against the ERP sandbox in-process: contact persons found by the CRM contact
number and numbered by FinOps, header + lines in one atomic change set with real DateTimeOffset dates, stale
lines deleted, and records held back while their customer or product is missing."""

from __future__ import annotations

import itertools
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from p2c.connectors.base.sink import HeldBack, SinkRecord, WriteResult
from p2c.connectors.core.versions import VersionStore
from p2c.connectors.finops.holds import DependencyHold
from p2c.connectors.finops.quotations import QUOTATIONS
from p2c.connectors.finops.sink import FinOpsSink
from p2c.connectors.finops.targets import CONTACT_PERSONS, Target

from . import sandboxes

pytestmark = pytest.mark.timeout(20)

_offsets = itertools.count()


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def envelope(topic: str, key: str, record: dict[str, Any], version: int, op: str, entity: str) -> SinkRecord:
    origin = {"system": "crm", "entity": entity, "id": key, "version": version, "ts_ms": 0}
    return SinkRecord(topic, 0, next(_offsets), f"usmf|{key}", {"op": op, "record": record, "origin": origin})


def contact(number: str, customer: str, version: int, op: str = "UPSERT") -> SinkRecord:
    record = {
        "dataAreaId": "usmf",
        "ContactPersonId": number,
        "AssociatedContactType": "Customer",
        "AssociatedContactNumber": customer,
        "FirstName": "Ada",
        "LastName": f"Lovelace v{version}",
    }
    return envelope(CONTACT_PERSONS.topic, number, record, version, op, "contacts")


def quotation(
    number: str, version: int, lines: dict[int, str], customer: str = "C-1", op: str = "UPSERT"
) -> SinkRecord:
    header = {
        "dataAreaId": "usmf",
        "SalesQuotationNumber": number,
        "RequestingCustomerAccountNumber": customer,
        "RequestedShippingDate": date(2020, 1, 1),
    }
    rows = [
        {
            "dataAreaId": "usmf",
            "SalesQuotationNumber": number,
            "LineCreationSequenceNumber": n,
            "ProductNumber": p,
            "SalesUnitSymbol": "ea",
            "RequestedSalesQuantity": n,
        }
        for n, p in lines.items()
    ]
    return envelope(QUOTATIONS.topic, number, {"header": header, "lines": rows}, version, op, "quotes")


@pytest.fixture
def erp(tmp_path: Path) -> sandboxes.InProcess:
    erp, _ = sandboxes.erp(tmp_path)
    erp.state_dir = tmp_path / "state"
    client = erp.client()
    client.request(
        "POST",
        "CustomersV3",
        json={
            "dataAreaId": "usmf",
            "CustomerAccount": "C-1",
            "PartyType": "Organization",
            "OrganizationName": "Acme",
            "CustomerGroupId": "10",
        },
    )
    for p in ("P-1", "P-2", "P-3"):
        client.request("POST", "CDSReleasedDistinctProducts", json={"dataAreaId": "usmf", "ProductNumber": p})
    return erp


def sink(erp: sandboxes.InProcess, target: Target, clock: Clock | None = None) -> FinOpsSink:
    client = erp.client()
    return FinOpsSink(
        client,
        target,
        VersionStore(erp.state_dir, target.name),
        hold=DependencyHold(client, timeout=60.0, retry_after=0.5, clock=clock or Clock()),
    )


def rows(erp: sandboxes.InProcess, entity_set: str) -> list[dict[str, Any]]:
    return list(erp.client().get_json(entity_set, params={"cross-company": "true"})["value"])


def lines_of(erp: sandboxes.InProcess, number: str) -> dict[int, tuple[str, float]]:
    return {
        r["LineCreationSequenceNumber"]: (r["ProductNumber"], r["RequestedSalesQuantity"])
        for r in rows(erp, "CDSSalesQuotationLines")
        if r["SalesQuotationNumber"] == number
    }


def held(s: FinOpsSink, batch: list[SinkRecord]) -> tuple[WriteResult, list[SinkRecord]]:
    try:
        return s.write(batch), []
    except HeldBack as exc:
        return exc.done, exc.held


# ---- contact persons ----------------------------------------------------------------------------------


def test_contact_persons_are_created_numbered_by_finops_found_by_contact_number_and_deleted(
    erp: sandboxes.InProcess,
) -> None:
    s = sink(erp, CONTACT_PERSONS)
    assert len(s.write([contact("CON-1", "C-1", 1)]).written) == 1
    (created,) = rows(erp, "CDSContactPersonsV2")
    assert created["ContactPersonPartyNumber"].isdigit() and created["ContactPersonId"] == "CON-1"
    s.write([contact("CON-1", "C-1", 2)])
    (row,) = rows(erp, "CDSContactPersonsV2")
    assert row["LastName"] == "Lovelace v2" and row["ContactPersonPartyNumber"] == created["ContactPersonPartyNumber"]
    assert len(s.write([contact("CON-1", "C-1", 1)]).skipped) == 1  # older: never overwrites
    assert rows(erp, "CDSContactPersonsV2")[0]["LastName"] == "Lovelace v2"
    assert len(s.write([contact("CON-1", "C-1", 3, op="DELETE")]).written) == 1
    assert rows(erp, "CDSContactPersonsV2") == []
    assert len(s.write([contact("CON-1", "C-1", 4, op="DELETE")]).skipped) == 1  # gone already


def test_a_contact_person_that_moves_to_another_customer_moves_in_finops(erp: sandboxes.InProcess) -> None:
    s = sink(erp, CONTACT_PERSONS)
    customer = {"PartyType": "Organization", "OrganizationName": "Two", "CustomerGroupId": "10"}
    erp.client().request("POST", "CustomersV3", json={"dataAreaId": "usmf", "CustomerAccount": "C-2", **customer})
    s.write([contact("CON-1", "C-1", 1)])
    assert len(s.write([contact("CON-1", "C-2", 2)]).written) == 1
    (row,) = rows(erp, "CDSContactPersonsV2")
    assert (row["AssociatedContactNumber"], row["LastName"]) == ("C-2", "Lovelace v2")


def test_a_contact_person_waits_for_its_customer_then_goes_or_is_dead_lettered(erp: sandboxes.InProcess) -> None:
    clock = Clock()
    s = sink(erp, CONTACT_PERSONS, clock)
    batch = [contact("CON-1", "C-1", 1), contact("CON-2", "C-NEW", 1), contact("CON-3", "C-LATE", 1)]
    done, waiting = held(s, batch)
    assert [r.key for r in done.written] == ["usmf|CON-1"]  # the rest of the batch is not held back
    assert [r.key for r in waiting] == ["usmf|CON-2", "usmf|CON-3"]
    assert s.hold.lookups == 1  # one GET for the batch's customers

    erp.client().request(
        "POST",
        "CustomersV3",
        json={
            "dataAreaId": "usmf",
            "CustomerAccount": "C-NEW",
            "PartyType": "Organization",
            "OrganizationName": "New",
            "CustomerGroupId": "10",
        },
    )
    clock.now = 30.0
    done, waiting = held(s, waiting)
    assert [r.key for r in done.written] == ["usmf|CON-2"] and [r.key for r in waiting] == ["usmf|CON-3"]
    clock.now = 61.0
    done, waiting = held(s, waiting)
    assert waiting == [] and [r.key for r, _ in done.rejected] == ["usmf|CON-3"]
    error = done.rejected[0][1]
    assert "customer 'C-LATE' does not exist in company 'usmf'" in str(error) and "waited 60 s" in str(error)
    assert error.field == "AssociatedContactNumber"


# ---- quotations ---------------------------------------------------------------------------------------


def test_quotation_header_and_lines_are_written_together_and_removed_lines_deleted(erp: sandboxes.InProcess) -> None:
    s = sink(erp, QUOTATIONS)
    assert len(s.write([quotation("Q-1", 1, {1: "P-1", 2: "P-2", 3: "P-3"})]).written) == 1
    assert lines_of(erp, "Q-1") == {1: ("P-1", 1), 2: ("P-2", 2), 3: ("P-3", 3)}
    (header,) = rows(erp, "CDSSalesQuotationHeaders")
    assert header["RequestingCustomerAccountNumber"] == "C-1"
    assert header["RequestedShippingDate"] == "2020-01-01T00:00:00.000Z"

    assert len(s.write([quotation("Q-1", 2, {1: "P-2", 3: "P-3", 4: "P-1"})]).written) == 1
    assert lines_of(erp, "Q-1") == {1: ("P-2", 1), 3: ("P-3", 3), 4: ("P-1", 4)}
    assert len(s.write([quotation("Q-1", 1, {1: "P-1"})]).skipped) == 1  # older: never overwrites

    assert len(s.write([quotation("Q-1", 3, {}, op="DELETE")]).written) == 1
    assert rows(erp, "CDSSalesQuotationHeaders") == [] and lines_of(erp, "Q-1") == {}


def test_a_replay_writes_again_a_quotation_line_deleted_by_hand(erp: sandboxes.InProcess) -> None:
    s = sink(erp, QUOTATIONS)
    s.write([quotation("Q-1", 1, {1: "P-1", 2: "P-2"}), quotation("Q-2", 1, {1: "P-1"})])
    erp.client().request(
        "DELETE", "CDSSalesQuotationLines(dataAreaId='usmf',SalesQuotationNumber='Q-1',LineCreationSequenceNumber=2)"
    )
    again = s.write([quotation("Q-1", 1, {1: "P-1", 2: "P-2"}), quotation("Q-2", 1, {1: "P-1"})])
    assert [r.key for r in again.written] == ["usmf|Q-1"] and [r.key for r in again.skipped] == ["usmf|Q-2"]
    assert lines_of(erp, "Q-1") == {1: ("P-1", 1), 2: ("P-2", 2)}


def test_a_bad_line_rejects_the_whole_quotation_atomically(erp: sandboxes.InProcess) -> None:
    s = sink(erp, QUOTATIONS)
    s.write([quotation("Q-1", 1, {1: "P-1"})])
    bad = quotation("Q-1", 2, {1: "P-2", 2: "P-3"})
    bad.value["record"]["lines"][1]["SalesUnitSymbol"] = "furlong"
    result = s.write([bad, quotation("Q-2", 1, {1: "P-1"})])
    assert [r.key for r in result.written] == ["usmf|Q-2"]
    assert "furlong" in str(result.rejected[0][1])
    assert lines_of(erp, "Q-1") == {1: ("P-1", 1)}  # nothing of version 2 landed


def test_a_quotation_waits_for_its_customer_and_a_missing_product_is_dead_lettered(erp: sandboxes.InProcess) -> None:
    clock = Clock()
    s = sink(erp, QUOTATIONS, clock)
    done, waiting = held(s, [quotation("Q-1", 1, {1: "P-1"}, customer="C-2"), quotation("Q-2", 1, {1: "P-404"})])
    assert done.written == [] and len(waiting) == 2
    erp.client().request(
        "POST",
        "CustomersV3",
        json={
            "dataAreaId": "usmf",
            "CustomerAccount": "C-2",
            "PartyType": "Organization",
            "OrganizationName": "Two",
            "CustomerGroupId": "10",
        },
    )
    clock.now = 61.0
    done, waiting = held(s, waiting)
    assert [r.key for r in done.written] == ["usmf|Q-1"] and waiting == []
    ((record, error),) = done.rejected
    assert record.key == "usmf|Q-2" and "released product 'P-404'" in str(error) and error.field == "ProductNumber"


def test_a_quotations_cleared_header_and_line_fields_get_their_empty_values() -> None:
    record = {
        "header": {"dataAreaId": "usmf", "SalesQuotationNumber": "Q-1", "DeliveryAddressStreet": None, "Email": None},
        "lines": [
            {"LineCreationSequenceNumber": 1, "LineDescription": None, "LineDiscountAmount": None},
            {"LineCreationSequenceNumber": 2, "LineDescription": None},
        ],
    }
    cleared = ("header.DeliveryAddressStreet", "lines.1.LineDescription", "lines.1.LineDiscountAmount")
    header, lines = QUOTATIONS.clear(record, cleared).values()
    assert (header["DeliveryAddressStreet"], header["Email"]) == ("", None)  # Email: None, not cleared
    assert (lines[0]["LineDescription"], lines[0]["LineDiscountAmount"]) == ("", 0)
    assert lines[1]["LineDescription"] is None
