"""The Dataverse source against a fake Dataverse: full load, deltas (changes, deletes, own changes), resync,
lookups, keys, rejected rows, positions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from p2c.connectors.base.source import ChangeEvent, Checkpoint, Rejected, SourceItem
from p2c.connectors.dataverse.source import DataverseSource, token_number
from p2c.connectors.dataverse.streams import streams_for

from .fakes import OTHER, USER, FakeDataverse

pytestmark = pytest.mark.timeout(10)

EUR = "11111111-1111-1111-1111-111111111111"
BOX = "22222222-2222-2222-2222-222222222222"


def account(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "accountid": f"00000000-0000-0000-0000-{n:012d}",
        "accountnumber": f"ACC-{n:05d}",
        "name": f"A{n}",
        "creditlimit": 1000.5,
        "_transactioncurrencyid_value": EUR,
        "_modifiedby_value": OTHER,
        **extra,
    }


def crm(rows: int = 5) -> FakeDataverse:
    fake = FakeDataverse(
        reference={
            "transactioncurrencies": [{"transactioncurrencyid": EUR, "isocurrencycode": "EUR"}],
            "uoms": [{"uomid": BOX, "name": "Box"}],
        }
    )
    for n in range(rows):
        a = account(n)
        fake.put("accounts", a["accountid"], a)
    return fake


def source(fake: FakeDataverse, entities: str = "accounts", page_size: int = 2) -> DataverseSource:
    return DataverseSource(
        fake.client(), streams_for(entities.split(",")), poll_interval=0, page_size=page_size, position_refresh=3600
    )


def _drain(items: Iterator[SourceItem], polls: int) -> list[SourceItem]:
    out: list[SourceItem] = []
    for item in items:
        out.append(item)
        if isinstance(item, Checkpoint) and all(e.get("delta") for e in item.position["entities"].values()):
            polls -= 1
            if polls <= 0:
                break
    return out


def events(items: list[SourceItem]) -> list[ChangeEvent]:
    return [i for i in items if isinstance(i, ChangeEvent)]


def test_full_load_reads_every_row_as_r_pages_and_checkpoints() -> None:
    fake = crm(5)
    src = source(fake)
    items = _drain(src.changes(None), 1)
    evs = events(items)
    assert [e.value["op"] for e in evs] == ["r"] * 5
    assert [e.key for e in evs] == [account(n)["accountid"] for n in range(5)]
    first = evs[0].value
    assert first["after"]["transactioncurrencyid_isocurrencycode"] == "EUR"
    assert str(first["after"]["creditlimit"]) == "1000.5000"
    assert first["source"]["version"] == first["after"]["versionnumber"] and first["source"]["system"] == "crm"
    checkpoints = [i for i in items if isinstance(i, Checkpoint)]
    assert len(checkpoints) == 3  # 3 pages of 2
    assert (
        checkpoints[0].position["entities"]["accounts"]["next"]
        and not checkpoints[0].position["entities"]["accounts"]["delta"]
    )
    assert "$deltatoken=105" in checkpoints[-1].position["entities"]["accounts"]["delta"]
    assert fake.requests[1].url.path.endswith("/accounts/$count")  # the full load's total, for its progress
    first_request = fake.requests[2]  # after WhoAmI and the count
    assert "odata.track-changes" in first_request.headers["Prefer"]
    assert "odata.maxpagesize=2" in first_request.headers["Prefer"]
    assert 'odata.include-annotations="*"' in first_request.headers["Prefer"]
    assert "%24select=accountid%2Caccountnumber" in str(first_request.url)


def test_delta_publishes_changes_and_deletes_and_ignores_own_changes() -> None:
    fake = crm(3)
    src = source(fake)
    gen = src.changes(None)
    _drain(gen, 1)
    fake.put("accounts", account(1)["accountid"], account(1, name="renamed", modifiedon="2026-02-01T00:00:00Z"))
    new = account(9, createdon="2026-03-01T00:00:00Z", modifiedon="2026-03-01T00:00:00Z")
    fake.put("accounts", new["accountid"], new)
    fake.put("accounts", account(2)["accountid"], account(2, _modifiedby_value=USER, name="echo"))
    fake.delete("accounts", account(0)["accountid"])
    items = _drain(gen, 1)
    evs = events(items)
    by_op = {e.value["op"]: e for e in evs}
    assert sorted(e.value["op"] for e in evs) == ["c", "d", "u"]
    assert by_op["u"].value["after"]["name"] == "renamed"
    assert by_op["c"].key == new["accountid"]
    deleted = by_op["d"].value
    assert deleted["after"] is None and deleted["before"]["accountid"] == account(0)["accountid"]
    assert deleted["before"]["name"] is None
    assert deleted["source"]["version"] > by_op["u"].value["source"]["version"]
    assert isinstance(items[-1], Checkpoint)


def test_no_checkpoint_when_nothing_changed() -> None:
    fake = crm(1)
    src = source(fake)
    gen = src.changes(None)
    _drain(gen, 1)
    src.stop()
    assert list(gen) == []


def test_resumes_from_a_stored_delta_link_without_a_full_load() -> None:
    fake = crm(3)
    first = _drain(source(fake).changes(None), 1)
    position = [i for i in first if isinstance(i, Checkpoint)][-1].position
    fake.put("accounts", account(1)["accountid"], account(1, name="later"))
    evs = events(_drain(source(fake).changes(position), 1))
    assert [(e.value["op"], e.value["after"]["name"]) for e in evs] == [("u", "later")]


def test_expired_delta_token_means_full_resync() -> None:
    fake = crm(3)
    first = _drain(source(fake).changes(None), 1)
    position = [i for i in first if isinstance(i, Checkpoint)][-1].position
    link = position["entities"]["accounts"]["delta"]
    fake.expired.add(link.split("$deltatoken=")[1].replace("%21", "!").replace("%2F", "/"))
    evs = events(_drain(source(fake).changes(position), 1))
    assert [e.value["op"] for e in evs] == ["r", "r", "r"]


def test_quote_lines_are_keyed_by_their_quote_and_units_resolved() -> None:
    fake = crm(0)
    quote = "33333333-3333-3333-3333-333333333333"
    line = "44444444-4444-4444-4444-444444444444"
    fake.put(
        "quotedetails",
        line,
        {
            "quotedetailid": line,
            "_quoteid_value": quote,
            "_uomid_value": BOX,
            "quantity": 2,
            "_modifiedby_value": OTHER,
        },
    )
    src = source(fake, "quotedetails")
    gen = src.changes(None)
    evs = events(_drain(gen, 1))
    assert evs[0].key == quote and evs[0].value["after"]["uomid_name"] == "Box"
    fake.delete("quotedetails", line)
    deleted = events(_drain(gen, 1))[0]
    assert deleted.key == quote and deleted.value["before"]["_quoteid_value"] == quote


def test_lookup_type_from_annotations() -> None:
    fake = crm(0)
    q = "55555555-5555-5555-5555-555555555555"
    fake.put(
        "quotes",
        q,
        {
            "quoteid": q,
            "_customerid_value": "abc",
            "_customerid_value@Microsoft.Dynamics.CRM.lookuplogicalname": "contact",
        },
    )
    evs = events(_drain(source(fake, "quotes").changes(None), 1))
    assert evs[0].value["after"]["customerid_type"] == "contact"


def test_unknown_currency_reloads_reference_once_then_leaves_it_empty() -> None:
    fake = crm(0)
    a = account(1, _transactioncurrencyid_value="99999999-9999-9999-9999-999999999999")
    fake.put("accounts", a["accountid"], a)
    src = source(fake)
    evs = events(_drain(src.changes(None), 1))
    assert evs[0].value["after"]["transactioncurrencyid_isocurrencycode"] is None
    assert src.reference.loads == 1


def test_a_row_that_does_not_convert_is_rejected_not_dropped() -> None:
    fake = crm(2)
    bad = account(7, numberofemployees="lots")
    fake.put("accounts", bad["accountid"], bad)
    items = _drain(source(fake, page_size=10).changes(None), 1)
    rejected = [i for i in items if isinstance(i, Rejected)]
    assert len(events(items)) == 2 and len(rejected) == 1
    assert rejected[0].flow == "accounts" and rejected[0].field == "numberofemployees"
    assert rejected[0].key == bad["accountid"] and b"lots" in rejected[0].raw


def test_token_number() -> None:
    assert token_number("http://x/accounts?$deltatoken=919042%2108%2F22%2F2017") == 919042
    assert token_number("http://x/accounts?%24deltatoken=12!x") == 12
    assert token_number(None) is None


def test_positions_are_stored_relative_and_an_absolute_one_from_another_address_still_resumes() -> None:
    fake = crm(3)
    first = _drain(source(fake).changes(None), 1)
    position = [i for i in first if isinstance(i, Checkpoint)][-1].position
    delta = position["entities"]["accounts"]["delta"]
    assert not delta.startswith(("http:", "https:")), "a stored position must not name the service's address"
    root_path = urlsplit(fake.client().base_url).path
    position["entities"]["accounts"]["delta"] = f"http://moved.example:9{root_path}{delta}"  # an older, absolute one
    fake.put("accounts", account(2)["accountid"], account(2, name="after the move"))
    evs = events(_drain(source(fake).changes(position), 1))
    assert [(e.value["op"], e.value["after"]["name"]) for e in evs] == [("u", "after the move")]
