"""MappingFlow.handle(): upserts, deletes through the known key, re-keying and routing."""

from __future__ import annotations

import dataclasses

import pytest

from p2c.errors import RecordError
from p2c.streams import loader, samples
from p2c.streams.flow import DELETE, UPSERT, MappingFlow


@pytest.fixture(scope="module")
def flow() -> MappingFlow:
    return MappingFlow(loader.load("accounts"))


def test_create_is_an_upsert_keyed_by_company_and_account_with_its_origin(flow: MappingFlow) -> None:
    row = samples.account_row(7)
    outcome = flow.handle(samples.change("c", row, 42), None)
    [write] = outcome.writes
    assert write.key == "usmf|ACC-00007-SAMPLE"
    assert write.value["op"] == UPSERT
    assert write.value["record"]["CustomerAccount"] == "ACC-00007-SAMPLE"
    origin = write.value["origin"]
    assert (origin["system"], origin["entity"], origin["id"], origin["version"]) == (
        "crm",
        "accounts",
        row["accountid"],
        42,
    )
    assert outcome.known == {"dataAreaId": "usmf", "CustomerAccount": "ACC-00007-SAMPLE"}


def test_delete_carrying_only_the_id_blocks_the_known_customer(flow: MappingFlow) -> None:
    known = {"dataAreaId": "usmf", "CustomerAccount": "ACC-00007-SAMPLE"}
    outcome = flow.handle(samples.account_delete(7, 43), known)
    [write] = outcome.writes
    assert write.key == "usmf|ACC-00007-SAMPLE"
    assert write.value["op"] == DELETE
    assert write.value["record"] == {**known, "OnHoldStatus": "All"}
    assert write.value["origin"]["version"] == 43
    assert outcome.known is None


def test_delete_of_an_unknown_row_uses_its_before_image_when_it_has_the_number(flow: MappingFlow) -> None:
    outcome = flow.handle(samples.change("d", samples.account_row(3), 9), None)
    assert outcome.writes[0].key == "usmf|ACC-00003-SAMPLE"


def test_delete_of_a_row_never_seen_is_a_record_error(flow: MappingFlow) -> None:
    with pytest.raises(RecordError) as caught:
        flow.handle(samples.account_delete(5, 9), None)
    assert caught.value.field == "accountnumber"
    assert caught.value.record_key == samples.account_row(5)["accountid"]


def test_a_new_account_number_deletes_the_old_customer_first(flow: MappingFlow) -> None:
    old = {"dataAreaId": "usmf", "CustomerAccount": "ACC-OLD"}
    outcome = flow.handle(samples.change("u", samples.account_row(1), 2), old)
    assert [(w.key, w.value["op"]) for w in outcome.writes] == [
        ("usmf|ACC-OLD", DELETE),
        ("usmf|ACC-00001-SAMPLE", UPSERT),
    ]


def test_an_unchanged_key_writes_one_upsert(flow: MappingFlow) -> None:
    known = {"dataAreaId": "usmf", "CustomerAccount": "ACC-00001-SAMPLE"}
    outcome = flow.handle(samples.change("u", samples.account_row(1), 2), known)
    assert [w.value["op"] for w in outcome.writes] == [UPSERT]


def test_rows_routed_elsewhere_are_skipped_or_leave_this_target(flow: MappingFlow) -> None:
    routed = MappingFlow(dataclasses.replace(flow.template, when={"statecode": (0,)}))
    inactive = samples.change("u", samples.account_row(1, statecode=1), 2)
    assert routed.handle(inactive, None).skipped
    known = {"dataAreaId": "usmf", "CustomerAccount": "ACC-00001-SAMPLE"}
    [write] = routed.handle(inactive, known).writes
    assert write.value["op"] == DELETE


def test_a_change_without_after_is_a_record_error(flow: MappingFlow) -> None:
    change = samples.change("u", samples.account_row(1), 2) | {"after": None}
    with pytest.raises(RecordError, match="without 'after'"):
        flow.handle(change, None, message_key="k")


def test_a_replayed_renumber_sends_the_old_customers_delete_again_and_an_older_change_nothing(
    flow: MappingFlow,
) -> None:
    created = flow.handle(samples.change("c", samples.account_row(1), 10), None)
    renumber = samples.change("u", samples.account_row(1, accountnumber="ACC-NEW"), 11)
    renumbered = flow.handle(renumber, created.memory)
    again = flow.handle(renumber, renumbered.memory)  # the worker died after storing the memory
    assert [(w.key, w.value["op"], w.value["origin"]["version"]) for w in again.writes] == [
        ("usmf|ACC-00001-SAMPLE", "DELETE", 11),
        ("usmf|ACC-NEW", "UPSERT", 11),
    ]
    assert [w.value for w in again.writes] == [w.value for w in renumbered.writes]
    older = flow.handle(samples.change("c", samples.account_row(1), 10), renumbered.memory)
    assert older.writes == [] and older.memory == renumbered.memory  # the renumber comes after it, replayed too
