"""Which dependency each parked record waits on, by key, published with the streams' gauges (``waiting_keys``).

A record waits on the dependencies it follows whose answer has not come, or came without what it needs (no
number; a contact that is no active customer yet). The control links them to the dependency's dead letters, so
a contact waiting on a dead-lettered account says so from the moment it waits (p2c status, the API, p2c dlq,
the console).
"""

from __future__ import annotations

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
    """Parked record key -> the dependencies it waits for; inverted when published."""

    def __init__(self) -> None:
        self.by_record: dict[bytes, tuple[str, ...]] = {}

    def set(self, key: bytes, deps: Iterable[str]) -> None:
        found = tuple(deps)
        if found:
            self.by_record[key] = found
        else:
            self.by_record.pop(key, None)

    def clear(self) -> None:
        self.by_record = {}

    def published(self) -> dict[str, Any]:
        """``{dependency: [record keys waiting on it]}``, bounded."""
        inverted: dict[str, list[str]] = {}
        for key, deps in list(self.by_record.items()):
            for dep in deps:
                inverted.setdefault(dep, []).append(key.decode(errors="replace"))
        busiest = sorted(inverted.items(), key=lambda item: -len(item[1]))[:MAX_DEPENDENCIES]
        return {dep: sorted(keys)[:MAX_RECORDS] for dep, keys in busiest}
