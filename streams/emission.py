"""What a record last emitted: the floor of its next version, and what a replay sends again. Pure.

Two rules every flow keeps for each source record (an account, a contact, a quote):

* **Versions only go up.** A write's version is computed from its inputs (the change's source version, and
  for joins the answers it used), but an answer can raise that figure without a write (an account whose phone
  changed gives a quote nothing new to write). The next write would then reuse a version already sent and the
  sink, which applies only strictly newer versions per key, would skip it. So an emission is stamped
  ``max(computed, last emitted + 1)``: strictly newer than anything this record sent before.
* **Outputs before state.** An agent sends its writes, then stores the new state; a worker that dies after the
  state reached its changelog and before the writes were acknowledged replays the input against the new
  state. An input at or before the one that produced the state therefore re-sends the last emission (same
  values, same version: the sink applies it if it never arrived, and skips it if it did) instead of being
  suppressed as "already seen".

The state keeps ``emitted`` (the last version stamped) and ``sent`` (``[[topic, key, value], ...]``, the last
emission, in :mod:`streams.join.codec` JSON so decimals and dates survive).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Write:
    """One record for a target topic: its key and its (not yet encoded) value."""

    key: str
    value: dict[str, Any]


TopicWrite = tuple[str, Write]


def next_version(computed: int, state: Mapping[str, Any] | None) -> int:
    """The version of a new emission: ``computed``, raised above the last one this record emitted."""
    last = (state or {}).get("emitted")
    return computed if last is None else max(computed, int(last) + 1)


def stamp(writes: Sequence[TopicWrite], version: int) -> list[TopicWrite]:
    """``writes`` carrying ``version`` as their origin version."""
    return [(t, Write(w.key, {**w.value, "origin": {**w.value["origin"], "version": version}})) for t, w in writes]


def emit(
    state: Mapping[str, Any], writes: Sequence[TopicWrite], computed: int
) -> tuple[dict[str, Any], list[TopicWrite]]:
    """A new emission: the writes stamped with :func:`next_version`, and the state remembering them."""
    version = next_version(computed, state)
    stamped = stamp(writes, version)
    return {**state, "emitted": version, "sent": [[t, w.key, w.value] for t, w in stamped]}, stamped


def resend(state: Mapping[str, Any] | None) -> list[TopicWrite]:
    """The last emission again, as it was sent (a replay of an input the state already holds)."""
    return [(str(t), Write(str(k), dict(v))) for t, k, v in (state or {}).get("sent") or []]


def last_record(state: Mapping[str, Any] | None, topic: str) -> Any:
    """The record of the last UPSERT sent to ``topic``, to tell a new emission from a repeat."""
    for t, _, value in (state or {}).get("sent") or []:
        if t == topic and value.get("op") == "UPSERT":
            return value.get("record")
    return None
