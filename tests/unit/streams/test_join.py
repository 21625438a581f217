"""The foreign-key join, pure: providers answer subscribers, requesters keep the newest answer."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import UUID

import pytest

from p2c.streams import samples
from p2c.streams.join import codec
from p2c.streams.join.core import (
    Answer,
    Subscription,
    Versioned,
    accept,
    keep_followed,
    on_change,
    on_subscription,
    subscription_changes,
)
from p2c.streams.join.specs import ACCOUNTS, PRODUCTS

pytestmark = pytest.mark.timeout(5)
NONE: frozenset[tuple[str, str]] = frozenset()


def test_a_subscriber_is_answered_at_once_when_the_value_is_known_and_later_when_it_changes() -> None:
    sub = Subscription("accounts", "a-1", "answers", "c-1")
    first = on_subscription(None, sub)
    assert first.replies == [] and first.applied(NONE) == {("answers", "c-1")}
    changed = on_change("accounts", "a-1", None, first.applied(NONE), Versioned(5, {"number": "ACC-1"}))
    assert changed.replies == [("answers", "c-1", Answer("accounts", "a-1", Versioned(5, {"number": "ACC-1"})))]
    late = on_subscription(changed.current, Subscription("accounts", "a-1", "answers", "q-9"))
    assert [(t, k, a.current.version) for t, k, a in late.replies] == [("answers", "q-9", 5)]
    assert late.applied(first.applied(NONE)) == {("answers", "c-1"), ("answers", "q-9")}


def test_an_older_or_replayed_change_answers_the_current_value_again_and_an_unsubscribed_key_is_not() -> None:
    subs = frozenset({("answers", "c-1")})
    current = Versioned(9, {"number": "NEW"})
    again = [("answers", "c-1", Answer("accounts", "a", current))]  # its first answers may have been lost
    assert on_change("accounts", "a", current, subs, Versioned(4, {"number": "OLD"})).replies == again
    assert on_change("accounts", "a", current, subs, current).replies == again
    assert on_change("accounts", "a", current, subs, current).current == current
    gone = on_subscription(current, Subscription("accounts", "a", "answers", "c-1", active=False))
    assert gone.applied(subs) == NONE
    assert on_change("accounts", "a", current, gone.applied(subs), Versioned(10, None)).replies == []


def test_a_newer_change_that_leaves_the_value_as_it_was_answers_nobody_and_keeps_the_current_version() -> None:
    """An account renamed: the joins read its number only. No answer to its subscribers, no table write."""
    subs = frozenset({("answers", "c-1"), ("answers", "q-1")})
    current = Versioned(9, {"number": "ACC-1"})
    renamed = on_change("accounts", "a", current, subs, Versioned(12, {"number": "ACC-1"}))
    assert renamed.replies == [] and renamed.current == current and renamed.applied(subs) == subs
    renumbered = on_change("accounts", "a", current, subs, Versioned(13, {"number": "ACC-2"}))
    assert [a.current for _t, _k, a in renumbered.replies] == [Versioned(13, {"number": "ACC-2"})] * 2


def test_a_requester_takes_only_newer_answers_for_what_it_follows() -> None:
    followed = {"accounts": ["a-1"]}
    held = {"accounts": {"a-1": {"version": 7, "value": {"number": "X"}}}}
    assert accept(held, followed, Answer("accounts", "a-1", Versioned(8, {"number": "Y"})))
    assert not accept(held, followed, Answer("accounts", "a-1", Versioned(6, {"number": "Z"})))
    assert not accept(held, followed, Answer("accounts", "a-2", Versioned(9, {"number": "Z"})))
    assert keep_followed(held, {"accounts": []}) == {}


def test_subscription_changes_follow_the_difference() -> None:
    subscribe, unsubscribe = subscription_changes(
        {"accounts": ["a"], "products": ["p", "q"]}, {"contacts": ["c"], "products": ["q"]}
    )
    assert subscribe == [("contacts", "c")]
    assert unsubscribe == [("accounts", "a"), ("products", "p")]


def test_a_dependency_change_gives_its_id_version_and_fields_and_a_delete_gives_none() -> None:
    row = {"productid": "p-1", "productnumber": "P-1", "msdynce_ismaintainedexternally": True}
    dep, value = PRODUCTS.extract(samples.change("u", row, 12, entity="products"), None)
    assert (dep, value) == ("p-1", Versioned(12, {"number": "P-1", "external": True}))
    assert ACCOUNTS.extract(samples.change("d", {"accountid": "a-1"}, 13), "a-1") == ("a-1", Versioned(13, None))


def test_messages_and_state_keep_their_types() -> None:
    value = {
        "d": Decimal("1.50000"),
        "day": date(2024, 5, 1),
        "at": datetime(2024, 5, 1, tzinfo=UTC),
        "id": UUID(int=1),
        "n": None,
    }
    assert codec.loads(codec.dumps(value)) == value
    answer = Answer("products", "p", Versioned(3, {"number": "P"}))
    assert Answer.decode(answer.encode()) == answer
    sub = Subscription("products", "p", "t", "k", active=False)
    assert Subscription.decode(sub.encode()) == sub


def test_a_subscriber_holding_the_current_version_is_not_answered_and_one_holding_an_older_is() -> None:
    current = Versioned(9, {"number": "ACC-1"})
    held = on_subscription(current, Subscription("accounts", "a", "answers", "c-1", known=9))
    assert held.replies == [] and held.subscribed == ("answers", "c-1")
    older = on_subscription(current, Subscription("accounts", "a", "answers", "c-2", known=4))
    assert [(k, a.current) for _t, k, a in older.replies] == [("c-2", current)]


def test_a_subscription_keeps_the_version_held_and_one_without_it_reads_as_before() -> None:
    sub = Subscription("accounts", "a", "answers", "c-1", known=9)
    assert Subscription.decode(sub.encode()) == sub
    earlier = b'{"active":true,"dep":"a","join":"accounts","key":"c-1","reply_to":"answers"}'
    assert Subscription.decode(earlier) == Subscription("accounts", "a", "answers", "c-1")
    assert Subscription("accounts", "a", "answers", "c-1").encode() == earlier
