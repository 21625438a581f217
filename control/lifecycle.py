"""A dead letter's lifecycle, derived from the letters, what people did, and what got through since.

    open       dead-lettered; nothing newer of its key got through yet
    retried    sent back to where it came from (by a person); waiting for the outcome, or dead-lettered again:
               then the new letter carries on (``retried_as``), one entry per key rather than one per attempt
    resolved   a newer version of the same key got through (its own retry, or a later change): obsolete
    discarded  put aside by a person, with a note

Pure functions: the facts are read by control/deadletters.py.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from p2c.control.letters import Letter
from p2c.control.state import DISCARDED, RETRIED, Doc

OPEN = "open"
RESOLVED = "resolved"
STATES = (OPEN, RETRIED, RESOLVED, DISCARDED)
#: stages whose letters go back to their origin topic; a source letter is read again when its row changes
RETRYABLE_STAGES = ("streams", "sink")

Origin = tuple[str, int, int]
#: offsets past which a record with this key was processed: {(topic, partition, key): [offsets]}
Passed = Mapping[tuple[str, int, str], Sequence[int]]


@dataclass
class Entry:
    """One dead letter and where it stands."""

    id: str
    flow: str
    key: str
    stage: str
    reason: str
    field: str | None
    time: str
    origin: str
    state: str = OPEN
    why: str = ""
    newest: bool = True
    attempts: int = 1
    retry_of: str | None = None
    retried_as: str | None = None
    doc: Doc = dataclasses.field(default_factory=dict)

    @property
    def retryable(self) -> bool:
        return self.state == OPEN and self.newest and self.stage in RETRYABLE_STAGES

    def as_json(self) -> dict[str, object]:
        doc = self.doc
        return {
            "id": self.id,
            "flow": self.flow,
            "key": self.key,
            "stage": self.stage,
            "reason": self.reason,
            "field": self.field,
            "time": self.time,
            "origin": self.origin,
            "state": self.state,
            "why": self.why,
            "newest": self.newest,
            "retryable": self.retryable,
            "attempts": self.attempts,
            "retry_of": self.retry_of,
            "retried_as": self.retried_as,
            "changed_at": doc.get("at"),
            "by": doc.get("by"),
            "note": doc.get("note"),
        }


def _where(origin: Origin) -> str:
    return f"{origin[0]}[{origin[1]}]@{origin[2]}"


def _parse_sent_to(text: str | None) -> Origin | None:
    if not text:
        return None
    topic, partition, offset = text.rsplit("/", 2)
    return topic, int(partition), int(offset)


def classify(letters: Sequence[Letter], docs: Mapping[str, Doc], passed: Passed) -> list[Entry]:
    """Each letter's state, in the order given (oldest first)."""
    by_origin = {x.origin: x.id for x in letters}
    retried_from = {o: i for i, d in docs.items() if (o := _parse_sent_to(d.get("sent_to"))) is not None}
    entries: dict[str, Entry] = {}
    for x in letters:
        d = x.letter
        entry = Entry(x.id, x.flow, x.key, d.stage, d.reason, d.field, d.time, _where(x.origin), doc=docs.get(x.id, {}))
        entry.retry_of = retried_from.get(x.origin)
        if entry.retry_of in entries:
            earlier = entries[entry.retry_of]
            entry.attempts = earlier.attempts + 1
            earlier.retried_as = x.id
        entries[x.id] = entry
    for x in letters:
        _settle(entries[x.id], x, passed, by_origin)
    _mark_newest(letters, entries)
    return [entries[x.id] for x in letters]


def _settle(entry: Entry, x: Letter, passed: Passed, by_origin: Mapping[Origin, str]) -> None:
    topic, partition, offset = x.origin
    through = [
        o for o in passed.get((topic, partition, x.key), ()) if o > offset and (topic, partition, o) not in by_origin
    ]
    sent_to = _parse_sent_to(entry.doc.get("sent_to"))
    if entry.doc.get("state") == DISCARDED:
        entry.state, entry.why = DISCARDED, f"discarded by {entry.doc.get('by')}: {entry.doc.get('note')}"
    elif through:
        entry.state = RESOLVED
        if sent_to is not None and sent_to[2] in through:
            entry.why = f"its retry ({_where(sent_to)}) got through"
        else:
            entry.why = f"obsolete: a newer version of {x.key} ({_where((topic, partition, min(through)))}) got through"
    elif entry.doc.get("state") == RETRIED:
        entry.state = RETRIED
        if entry.retried_as:
            entry.why = f"sent back and dead-lettered again: see {entry.retried_as}"
        else:
            entry.why = f"sent back as {_where(sent_to) if sent_to else '?'}; waiting for the outcome"


def _mark_newest(letters: Sequence[Letter], entries: Mapping[str, Entry]) -> None:
    """Of the letters of one key (per flow and origin topic) only the newest is retried: an older open one
    waits for the newest to get through, which resolves it too. Discarded letters do not count."""
    newest: dict[tuple[str, str, str], Letter] = {}
    for x in letters:
        if entries[x.id].state == DISCARDED:
            continue
        group = (x.flow, x.letter.origin_topic, x.key)
        if group not in newest or x.origin[2] >= newest[group].origin[2]:
            newest[group] = x
    for x in letters:
        entry = entries[x.id]
        latest = newest.get((x.flow, x.letter.origin_topic, x.key))
        if entry.state == OPEN and latest is not None and latest.id != x.id:
            entry.newest = False
            entry.why = f"a newer letter of {x.key} exists ({latest.id}); a retry sends that one"
