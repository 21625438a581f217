"""A join provider's subscribers: one table entry each, an index rebuilt per consumer generation."""

from __future__ import annotations

from typing import Any

from p2c.streams.join import codec
from p2c.streams.join.core import ProviderStep
from p2c.streams.join.subscribers import Subscribers, entry_key


class RecordedTable(dict[bytes, bytes]):
    """A dict that counts the writes and removals made through it (each a changelog record in Faust)."""

    writes = 0

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.writes += 1
        super().__setitem__(key, value)

    def pop(self, key: bytes, default: Any = None) -> Any:
        if key in self:
            self.writes += 1
        return super().pop(key, default)


def subscribe(who: str) -> ProviderStep:
    return ProviderStep(None, [], subscribed=("answers", who))


def unsubscribe(who: str) -> ProviderStep:
    return ProviderStep(None, [], unsubscribed=("answers", who))


def test_a_subscription_writes_one_entry_however_many_subscribers_the_dependency_has() -> None:
    table, generation = RecordedTable(), [1]
    subscribers = Subscribers(table, lambda: generation[0])
    for n in range(1000):
        subscribers.apply(b"p-1", subscribe(f"q-{n}"))
    assert table.writes == 1000 and len(subscribers.of(b"p-1")) == 1000
    assert table[entry_key(b"p-1", ("answers", "q-7"))] == b"1"
    subscribers.apply(b"p-1", subscribe("q-7"))  # again: nothing to write
    subscribers.apply(b"p-1", unsubscribe("q-7"))
    subscribers.apply(b"p-1", unsubscribe("q-7"))  # again: nothing to remove
    assert table.writes == 1001 and ("answers", "q-7") not in subscribers.of(b"p-1")
    assert subscribers.of(b"p-2") == frozenset()


def test_the_index_is_rebuilt_from_the_table_when_the_generation_changes() -> None:
    table, generation = RecordedTable(), [1]
    subscribers = Subscribers(table, lambda: generation[0])
    subscribers.apply(b"p-1", subscribe("q-1"))
    table[entry_key(b"p-2", ("answers", "q-2"))] = b"1"  # a partition recovered by Faust, not through the index
    assert subscribers.of(b"p-2") == frozenset()  # same generation: the index is not read again
    generation[0] = 2
    assert subscribers.of(b"p-2") == {("answers", "q-2")} and subscribers.of(b"p-1") == {("answers", "q-1")}


def test_a_dependency_stored_as_one_list_is_read_and_rewritten_as_entries_when_next_touched() -> None:
    earlier = codec.dumps(sorted([("answers", "c-1"), ("other-answers", "q-1")]))
    table = RecordedTable({b"a-1": earlier, b"a-2": codec.dumps([["answers", "c-2"]])})
    subscribers = Subscribers(table, lambda: 1)
    assert subscribers.of(b"a-1") == {("answers", "c-1"), ("other-answers", "q-1")}
    subscribers.apply(b"a-1", unsubscribe("c-1"))
    assert set(table) == {entry_key(b"a-1", ("other-answers", "q-1")), b"a-2"}
    assert subscribers.of(b"a-2") == {("answers", "c-2")}  # untouched: still the list, still read
