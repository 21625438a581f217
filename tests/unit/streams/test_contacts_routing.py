"""The contacts flow, pure: routing, the parent-account join, route changes and deletes."""

from __future__ import annotations

from typing import Any

import pytest

from p2c.errors import RecordError
from p2c.streams import loader, samples
from p2c.streams.avro_fields import target_fields
from p2c.streams.contacts import ContactsFlow
from p2c.streams.join.core import Answer, State, Step, Versioned

pytestmark = pytest.mark.timeout(5)
TOPIC = "p2c.src.crm.contacts"
CUSTOMERS, PERSONS = "p2c.tgt.erp.customers", "p2c.tgt.erp.contactpersons"
ACCOUNT = Answer("accounts", "a-1", Versioned(40, {"number": "ACC-1"}))


@pytest.fixture(scope="module")
def flow() -> ContactsFlow:
    return ContactsFlow(loader.load("contacts-customers"), loader.load("contacts-contactpersons"))


def contact(**fields: Any) -> dict[str, Any]:
    return {
        "contactid": "c-1",
        "msdynce_contactnumber": "CON-1",
        "firstname": "Ada",
        "lastname": "Lovelace",
        "msdynce_isactivecustomer": False,
        "_parentcustomerid_value": "a-1",
        "parentcustomerid_type": "account",
        **fields,
    }


def feed(flow: ContactsFlow, *inputs: tuple[str, dict[str, Any], int] | Answer) -> list[Step]:
    state: State | None = None
    steps = []
    for item in inputs:
        if isinstance(item, Answer):
            step = flow.on_answer(state, item)
        else:
            op, row, version = item
            step = flow.on_change(TOPIC, state, samples.change(op, row, version, entity="contacts"), "c-1")
        steps.append(step)
        state = step.state
    return steps


def ops(step: Step) -> list[tuple[str, str, str]]:
    return [(topic, w.key, w.value["op"]) for topic, w in step.writes]


def test_a_contact_person_waits_for_its_account_number(flow: ContactsFlow) -> None:
    parked, answered = feed(flow, ("c", contact(donotemail=True), 1), ACCOUNT)
    assert parked.waiting_on == {"account": 1} and not parked.writes
    assert ops(answered) == [(PERSONS, "usmf|CON-1", "UPSERT")]
    record = answered.writes[0][1].value["record"]
    assert (record["AssociatedContactType"], record["AssociatedContactNumber"]) == ("Customer", "ACC-1")
    assert record["IsReceivingDirectMail"] == "No" and record["PrimaryAddressCountryRegionISOCode"] == "US"
    assert set(record) == set(target_fields(PERSONS)) - {"Decision"}  # Decision: not mapped (§1.2)
    assert answered.writes[0][1].value["origin"]["version"] == 40  # newer than the contact's 1


def test_an_answer_that_changes_nothing_writes_nothing(flow: ContactsFlow) -> None:
    *_, again = feed(flow, ("c", contact(), 1), ACCOUNT, Answer("accounts", "a-1", Versioned(41, {"number": "ACC-1"})))
    assert again.writes == []


def test_a_contact_that_becomes_a_customer_leaves_the_contact_persons(flow: ContactsFlow) -> None:
    *_, moved = feed(flow, ("c", contact(), 1), ACCOUNT, ("u", contact(msdynce_isactivecustomer=True), 50))
    assert ops(moved) == [(PERSONS, "usmf|CON-1", "DELETE"), (CUSTOMERS, "usmf|CON-1", "UPSERT")]
    assert moved.state is not None and moved.state["follows"] == {}
    *_, back = feed(flow, ("c", contact(msdynce_isactivecustomer=True), 1), ("u", contact(), 2), ACCOUNT)
    assert ops(back) == [(PERSONS, "usmf|CON-1", "UPSERT")]


def test_a_contact_without_an_account_parent_is_skipped(flow: ContactsFlow) -> None:
    [step] = feed(flow, ("c", contact(parentcustomerid_type="contact"), 1))
    assert step.skipped and not step.writes and step.waiting_on is None


def test_deletes_go_where_the_contact_was_written(flow: ContactsFlow) -> None:
    *_, deleted = feed(flow, ("c", contact(msdynce_isactivecustomer=True), 1), ("d", {"contactid": "c-1"}, 2))
    assert ops(deleted) == [(CUSTOMERS, "usmf|CON-1", "DELETE")]
    assert deleted.writes[0][1].value["record"]["OnHoldStatus"] == "All"
    assert deleted.state is not None and "known" not in deleted.state  # a tombstone: a replay re-sends the delete
    *_, person = feed(flow, ("c", contact(), 1), ACCOUNT, ("d", {"contactid": "c-1"}, 2))
    assert ops(person) == [(PERSONS, "usmf|CON-1", "DELETE")]
    with pytest.raises(RecordError):
        feed(flow, ("d", {"contactid": "c-1"}, 2))
