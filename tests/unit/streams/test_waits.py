"""What a parked record waits for, by dependency key, and the link to the dependency's dead letter."""

from __future__ import annotations

from pytest import MonkeyPatch

from p2c.control.lifecycle import Entry
from p2c.control.waits import links, waited_on_by, waiting_for
from p2c.streams.join import waits as join_waits
from p2c.streams.join.waits import WaitingKeys, waited_on


def test_a_record_waits_for_the_dependencies_with_no_usable_answer() -> None:
    state = {
        "follows": {"accounts": ["a-1"], "products": ["p-1", "p-2"], "contacts": ["c-1"]},
        "resolved": {
            "products": {"p-1": {"version": 3, "value": {"number": "P1", "external": True}}},
            "contacts": {"c-1": {"version": 4, "value": {"number": "CON-1", "active": False}}},
        },
    }
    assert waited_on(state) == ["accounts:a-1", "products:p-2", "contacts:c-1"]
    assert (
        waited_on(
            {
                "follows": {"accounts": ["a-1"]},
                "resolved": {"accounts": {"a-1": {"version": 1, "value": {"number": "ACC"}}}},
            }
        )
        == []
    )


def test_published_waits_meet_open_dead_letters() -> None:
    keys = WaitingKeys()
    keys.set(b"contact-1", ["accounts:a-1"])
    keys.set(b"contact-2", ["accounts:a-1"])
    keys.set(b"contact-3", ["accounts:a-2"])
    keys.set(b"contact-3", [])
    snapshot = {"component": "streams", "ts_ms": 1_000, "gauges": {"contacts": {"waiting_keys": keys.published()}}}
    waits = waiting_for([snapshot], 2_000)
    assert waits == {"contacts": {"accounts:a-1": ["contact-1", "contact-2"]}}
    letter = Entry("accounts.0.7", "accounts", "a-1", "streams", "no number", None, "t", "o")
    closed = Entry("accounts.0.8", "accounts", "a-1", "streams", "no number", None, "t", "o", state="discarded")
    assert links("contacts", waits, [letter, closed]) == [
        {
            "dependency": "accounts:a-1",
            "dead_letter": "accounts.0.7",
            "reason": "no number",
            "records": ["contact-1", "contact-2"],
        }
    ]
    assert waited_on_by([letter, closed], waits) == {"accounts.0.7": ["contacts contact-1", "contacts contact-2"]}


def test_waits_are_kept_by_dependency_as_records_park_move_and_leave() -> None:
    keys = WaitingKeys()
    keys.set(b"quote-1", ["accounts:a-1", "products:p-1", "products:p-1"])  # two lines of one product
    keys.set(b"quote-2", ["products:p-1"])
    assert keys.published() == {"products:p-1": ["quote-1", "quote-2"], "accounts:a-1": ["quote-1"]}
    keys.set(b"quote-1", ["products:p-2"])  # its account answered, a line changed product
    assert keys.published() == {"products:p-1": ["quote-2"], "products:p-2": ["quote-1"]}
    keys.set(b"quote-2", [])
    keys.set(b"quote-1", [])
    assert keys.published() == {} and keys.by_dependency == {} and keys.by_record == {}


def test_published_waits_are_the_busiest_dependencies_with_the_records_waiting_longest(
    monkeypatch: MonkeyPatch,
) -> None:
    monkeypatch.setattr(join_waits, "MAX_DEPENDENCIES", 2)
    monkeypatch.setattr(join_waits, "MAX_RECORDS", 3)
    keys = WaitingKeys()
    for n in range(9, -1, -1):
        keys.set(f"contact-{n}".encode(), ["accounts:busy"] + (["accounts:second"] if n < 2 else []))
    keys.set(b"contact-x", ["accounts:quiet"])
    assert keys.published() == {
        "accounts:busy": ["contact-7", "contact-8", "contact-9"],  # parked first (sorted when published)
        "accounts:second": ["contact-0", "contact-1"],
    }
