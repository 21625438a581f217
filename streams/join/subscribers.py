"""A join provider's subscribers: one table entry per (dependency, subscriber), indexed by dependency in memory.

The table used to hold, per dependency id, the JSON list of all its subscribers, rewritten whole at every
subscription: a product on 20,000 quotes cost ~1.4 MB of JSON to encode and a changelog record that size
for each new quote line, past the broker's default 1 MB message limit (issue 12: cost that grows with the
data). Now a subscription writes one small entry (``<dep>\\0<answer topic>\\0<requester key>``, value
``b"1"``) and an unsubscription removes it.

The index, dependency id -> its subscribers, is rebuilt from the table once per consumer generation: a
rebalance changes what the table holds (recovered partitions come in, through Faust's recovery and not
through this class), and Faust sets the new generation before the agents see its first event. Between
rebalances every change to the table goes through :meth:`Subscribers.apply`.

A table written by an earlier p2c (a list per dependency id, a key without ``\\0``) is read as such; the
first step that touches such a dependency rewrites it as entries.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from collections.abc import Set as AbstractSet

from p2c.streams.join import codec
from p2c.streams.join.core import ProviderStep, Subscriber

SEPARATOR = b"\0"  # never in an id or a topic name
PRESENT = b"1"


def entry_key(dep: bytes, who: Subscriber) -> bytes:
    topic, key = who
    return SEPARATOR.join((dep, topic.encode(), key.encode()))


class Subscribers:
    """Every dependency's subscribers, over the provider's subscribers table."""

    def __init__(self, table: MutableMapping[bytes, bytes], generation: Callable[[], object]) -> None:
        self.table, self._generation = table, generation
        self._by_dep: dict[bytes, set[Subscriber]] = {}
        self._earlier_format: set[bytes] = set()  # dependency ids stored as one list
        self._indexed: object = object()  # the generation the index was built in: none yet

    def of(self, dep: bytes) -> AbstractSet[Subscriber]:
        """``dep``'s subscribers (the live set: read it, do not keep it)."""
        self._index()
        return self._by_dep.get(dep, frozenset())

    def apply(self, dep: bytes, step: ProviderStep) -> None:
        """Store the step's change of ``dep``'s subscribers (called in the event's context: its partition)."""
        self._index()
        if dep in self._earlier_format:
            self._rewrite(dep)
        if step.subscribed is not None and step.subscribed not in self._by_dep.get(dep, ()):
            self._by_dep.setdefault(dep, set()).add(step.subscribed)
            self.table[entry_key(dep, step.subscribed)] = PRESENT
        if step.unsubscribed is not None and step.unsubscribed in self._by_dep.get(dep, ()):
            self._by_dep[dep].discard(step.unsubscribed)
            if not self._by_dep[dep]:
                del self._by_dep[dep]
            self.table.pop(entry_key(dep, step.unsubscribed), None)

    def _index(self) -> None:
        generation = self._generation()
        if generation == self._indexed:
            return
        self._by_dep.clear()
        self._earlier_format.clear()
        for key, value in list(self.table.items()):
            parts = key.split(SEPARATOR)
            if len(parts) == 3:
                dep, topic, who = parts
                self._by_dep.setdefault(dep, set()).add((topic.decode(), who.decode()))
            else:  # the earlier format: the dependency id -> [[answer topic, requester key], ...]
                listed = {(topic, who) for topic, who in codec.loads(value) or []}
                if listed:
                    self._by_dep.setdefault(key, set()).update(listed)
                    self._earlier_format.add(key)
        self._indexed = generation

    def _rewrite(self, dep: bytes) -> None:
        self.table.pop(dep, None)
        for who in self._by_dep.get(dep, ()):
            self.table[entry_key(dep, who)] = PRESENT
        self._earlier_format.discard(dep)
