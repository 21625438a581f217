"""Which dependency each parked record waits on, by key, published with the streams' gauges (``waiting_keys``).

A record waits on the dependencies it follows whose answer has not come, or came without what it needs (no
number; a contact that is no active customer yet). The control links them to the dependency's dead letters, so
a contact waiting on a dead-lettered account says so from the moment it waits (p2c status, the API, p2c dlq,
the console).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable
from typing import Any

from p2c.flows import flow_of_source
from p2c.streams.join.core import State, follows, value_of
from p2c.streams.join.specs import SPECS

#: dependencies published per flow (the busiest first); records listed per dependency
MAX_DEPENDENCIES = 500
MAX_RECORDS = 20


def dependency(join: str, dep: str) -> str:
    """``accounts:<accountid>``: the flow whose dead letters the dependency's key is looked up in, and the key."""
    topic = next((t for t, spec in SPECS.items() if spec.name == join), None)
    return f"{join if topic is None else flow_of_source(topic)}:{dep}"


def waited_on(state: State | None) -> list[str]:
    """The dependencies a parked record still waits for."""
    resolved = (state or {}).get("resolved") or {}
    missing = []
    for join, deps in follows(state).items():
        for dep in deps:
            held = value_of(resolved, join, dep)
            value = None if held is None else held.value
            if not value or not value.get("number") or ("active" in value and value.get("active") is not True):
                missing.append(dependency(join, dep))
    return missing


class WaitingKeys:
    """Parked record key -> the dependencies it waits for, and the inverse, both kept as records park and leave.

    Published with every commit of the worker's offsets (and every few seconds): it used to invert and sort every
    parked record each time, which grew with them (measured: 24 ms for 20,000 parked records; ~3.5 % of the
    worker's CPU in a quotes load with 4,000 waiting). Now a park or release costs its own dependencies, and
    publishing picks the busiest dependencies and the records waiting longest on each (a dict keeps the order
    they came in), without walking every record.
    """

    def __init__(self) -> None:
        self.by_record: dict[bytes, frozenset[str]] = {}
        self.by_dependency: dict[str, dict[bytes, None]] = {}  # dependency -> its records, in the order they came

    def set(self, key: bytes, deps: Iterable[str]) -> None:
        found, before = frozenset(deps), self.by_record.get(key, frozenset())
        if found == before:
            return
        for dep in before - found:
            waiting = self.by_dependency[dep]
            del waiting[key]
            if not waiting:
                del self.by_dependency[dep]
        for dep in found - before:
            self.by_dependency.setdefault(dep, {})[key] = None
        if found:
            self.by_record[key] = found
        else:
            del self.by_record[key]

    def clear(self) -> None:
        self.by_record, self.by_dependency = {}, {}

    def published(self) -> dict[str, Any]:
        """``{dependency: [record keys waiting on it]}``: the busiest dependencies, each with the records waiting
        longest on it, sorted."""
        busiest = heapq.nlargest(MAX_DEPENDENCIES, self.by_dependency.items(), key=lambda item: len(item[1]))
        return {
            dep: sorted(key.decode(errors="replace") for key in itertools.islice(keys, MAX_RECORDS))
            for dep, keys in busiest
        }
