"""A dead letter's state, from the letters, what people did, and what got through since (no Kafka)."""

from __future__ import annotations

from p2c.control.letters import Letter, parse_id
from p2c.control.lifecycle import classify
from p2c.deadletter import DeadLetter

ORIGIN = "p2c.tgt.erp.customers"


def letter(offset: int, key: str, origin_offset: int, stage: str = "sink") -> Letter:
    dead = DeadLetter("accounts", stage, "bad country", key.encode(), b"v", ORIGIN, 0, origin_offset, "country", "t")
    return Letter("accounts", 0, offset, dead)


def test_only_the_newest_open_letter_of_a_key_is_retryable() -> None:
    old, new, other = letter(0, "A", 3), letter(1, "A", 7), letter(2, "B", 8)
    entries = classify([old, new, other], {}, {})
    assert [e.state for e in entries] == ["open"] * 3
    assert [e.retryable for e in entries] == [False, True, True]
    assert "accounts.0.1" in entries[0].why


def test_a_newer_version_that_got_through_resolves_older_letters_and_says_so() -> None:
    old, new = letter(0, "A", 3), letter(1, "A", 7)
    docs = {"accounts.0.1": {"state": "retried", "by": "ana", "sent_to": f"{ORIGIN}/0/12"}}
    entries = classify([old, new], docs, {(ORIGIN, 0, "A"): [7, 12]})  # 7 is a letter's own origin: not through
    assert [e.state for e in entries] == ["resolved", "resolved"]
    assert "obsolete" in entries[0].why and f"{ORIGIN}[0]@12" in entries[0].why
    assert entries[1].why == f"its retry ({ORIGIN}[0]@12) got through"


def test_a_retry_dead_lettered_again_carries_on_as_one_entry() -> None:
    first, again = letter(0, "A", 3), letter(1, "A", 12)
    docs = {"accounts.0.0": {"state": "retried", "by": "ana", "sent_to": f"{ORIGIN}/0/12"}}
    entries = classify([first, again], docs, {(ORIGIN, 0, "A"): [12]})
    assert (entries[0].state, entries[0].retried_as) == ("retried", "accounts.0.1")
    assert (entries[1].state, entries[1].attempts, entries[1].retry_of) == ("open", 2, "accounts.0.0")
    assert entries[1].retryable


def test_a_retried_letter_waits_for_its_outcome_and_a_discarded_one_keeps_its_note() -> None:
    waiting, put_aside = letter(0, "A", 3), letter(1, "B", 4)
    docs = {
        "accounts.0.0": {"state": "retried", "by": "ana", "sent_to": f"{ORIGIN}/0/12"},
        "accounts.0.1": {"state": "discarded", "by": "bo", "note": "test record"},
    }
    entries = classify([waiting, put_aside], docs, {(ORIGIN, 0, "B"): [9]})
    assert entries[0].state == "retried" and "waiting for the outcome" in entries[0].why
    assert entries[1].state == "discarded" and entries[1].why == "discarded by bo: test record"
    assert entries[1].as_json()["note"] == "test record" and not entries[1].retryable


def test_a_source_letter_is_never_retryable() -> None:
    (entry,) = classify([letter(0, "A", -1, stage="source")], {}, {})
    assert entry.state == "open" and not entry.retryable


def test_letter_ids_round_trip() -> None:
    assert parse_id(letter(5, "A", 1).id) == ("accounts", 0, 5)
