"""From one change event to the target writes it causes: pure, no Kafka, shared by every mapping flow.

Target topics are keyed by the target record's key fields joined by ``|`` (``{dataAreaId}|{CustomerAccount}``,
e.g. ``usmf|ACC-01000-BVRCPS``), so every write for one target record lands on one partition, in order,
and two legal entities never share a key.

The agent keeps, per source row (keyed by the source key, so co-partitioned with the change topic), its
*memory*: the target key fields it last wrote (the *known* key), the key its last change deleted, the last
source version seen and the version it last emitted (:mod:`streams.emission`: versions only go up; the
replay of the change that produced the memory sends its writes again). A deleted row keeps its memory
without a key, so a replayed delete is sent again. With it:

* ``c``/``u``/``r`` of a row the template routes here -> ``UPSERT`` of the mapped record; when the row's
  target key changed (say, a new account number), a ``DELETE`` of the old key first.
* ``c``/``u``/``r`` of a row routed elsewhere (``when`` does not match) -> nothing, or a ``DELETE`` of the
  known key when the row was routed here before (a contact that became a customer leaves the contact persons).
* ``d`` -> a ``DELETE`` of the known key, carrying the template's ``[on_delete]`` fields (for customers:
  ``OnHoldStatus = All``: the sink blocks the customer, it does not delete it). A delete event carries only
  the source key, so the known key is what makes it possible; a delete of a row never written here and
  whose ``before`` lacks the key fields is a RecordError (dead-lettered, never silently dropped).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from p2c.errors import RecordError
from p2c.streams import emission
from p2c.streams.emission import Write
from p2c.streams.template import Template, apply, matches, target_key, upsert

UPSERT = "UPSERT"
DELETE = "DELETE"
KeyFields = dict[str, Any]
Memory = dict[str, Any]  # per source row: {"key": KeyFields | None, "seen", "emitted", "gone": KeyFields | None}

__all__ = ["DELETE", "UPSERT", "KeyFields", "MappingFlow", "Memory", "Outcome", "Write", "memory_of"]


@dataclass(frozen=True)
class Outcome:
    """What one change event leads to: writes, and what to remember of the row afterwards."""

    writes: list[Write] = field(default_factory=list)
    memory: Memory | None = None  # None: nothing to remember (a row never routed here)
    skipped: str | None = None  # why nothing was written, when nothing was

    @property
    def known(self) -> KeyFields | None:
        """The target key fields the row was last written to (None: not written, or deleted)."""
        return None if self.memory is None else self.memory.get("key")


def memory_of(stored: Mapping[str, Any] | None) -> Memory | None:
    """A row's memory as stored; a value of the earlier format (the bare key fields) is read as such."""
    if stored is None:
        return None
    if "seen" not in stored:
        return {"key": dict(stored), "seen": -1, "emitted": None, "gone": None}
    return dict(stored)


class MappingFlow:
    """Applies one template to change events in the Debezium envelope."""

    def __init__(self, template: Template) -> None:
        self.template = template
        self._key_specs = [template.field_spec(name) for name in template.key]

    @property
    def name(self) -> str:
        return self.template.flow

    def source_id(self, change: Mapping[str, Any], message_key: str | None) -> str:
        """The source row's key: from the row, else the message key (which the source sets to it)."""
        row = change.get("after") or change.get("before") or {}
        value = row.get(self.template.source_key, message_key)
        if value is None:
            raise RecordError("has no key", field=self.template.source_key)
        return str(value)

    def origin(self, change: Mapping[str, Any], source_id: str) -> dict[str, Any]:
        src = change["source"]
        return {
            "system": self.template.origin.get("system", src.get("system")),
            "entity": self.template.origin.get("entity", src.get("entity")),
            "id": source_id,
            "version": src["version"],
            "ts_ms": src["ts_ms"],
        }

    def key_fields(self, record: Mapping[str, Any]) -> KeyFields:
        return {name: record[name] for name in self.template.key}

    def _delete(self, key_fields: KeyFields, origin: dict[str, Any]) -> Write:
        record = {**key_fields, **self.template.on_delete}
        return Write(target_key(self.template, record), {"op": DELETE, "record": record, "origin": origin})

    def _key_from_row(self, row: Mapping[str, Any], source_id: str) -> KeyFields:
        """The target key fields of a row that carries them (a delete's ``before``, when the source has it)."""
        sub = Template(
            self.template.flow,
            self.template.source_topic,
            self.template.target_topic,
            self.template.source_key,
            self.template.key,
            tuple(self._key_specs),
        )
        return apply(sub, {**row, self.template.source_key: source_id})

    def _emit(
        self, memory: Memory | None, writes: list[Write], version: int, key: KeyFields | None, gone: KeyFields | None
    ) -> Outcome:
        """A new emission, strictly newer than the row's last; the memory keeps what a replay needs to redo it."""
        topic = self.template.target_topic
        stamped = emission.stamp([(topic, w) for w in writes], emission.next_version(version, memory))
        emitted = int(stamped[0][1].value["origin"]["version"]) if stamped else (memory or {}).get("emitted")
        state = {"key": key, "seen": version, "emitted": emitted, "gone": gone}
        return Outcome([w for _, w in stamped], state)

    def handle(
        self, change: Mapping[str, Any], stored: Mapping[str, Any] | None, message_key: str | None = None
    ) -> Outcome:
        """The writes for ``change`` given what is remembered of its row (:func:`memory_of`). Raises RecordError.

        The memory is small (the row's key, the key its last emission deleted, versions): a change at the
        last version seen (a replay of the change that produced the memory) is worked out again from the change
        and sent again with the version it had; an older one writes nothing, since the change that produced the
        memory comes after it in the same partition and is replayed too (outputs before state).
        """
        memory = memory_of(stored)
        source_id = self.source_id(change, message_key)
        version = int(change["source"]["version"])
        if memory is not None and version < int(memory.get("seen", -1)):
            return Outcome(memory=memory)
        if memory is not None and version == int(memory.get("seen", -1)):
            return self._again(change, memory, source_id)
        known = None if memory is None else memory.get("key")
        origin = self.origin(change, source_id)
        if change["op"] == "d":
            if known is None:
                if memory is not None:
                    return Outcome(memory={**memory, "seen": version}, skipped="already deleted")
                try:
                    known = self._key_from_row(change.get("before") or {}, source_id)
                except RecordError as exc:
                    raise RecordError(
                        f"delete of a row never written to {self.template.target_topic}: "
                        f"its target key is unknown ({exc.reason})",
                        record_key=source_id,
                        field=exc.field,
                    ) from exc
            return self._emit(memory, [self._delete(known, origin)], version, None, known)
        row = change.get("after")
        if row is None:
            raise RecordError(f"a {change['op']!r} change without 'after'", record_key=source_id)
        if not matches(self.template, row):
            if known is None:
                seen = None if memory is None else {**memory, "seen": version, "gone": None}
                return Outcome(memory=seen, skipped=f"not routed to {self.template.flow}")
            return self._emit(memory, [self._delete(known, origin)], version, None, known)
        record = apply(self.template, row)
        new_key = self.key_fields(record)
        gone = known if known is not None and known != new_key else None
        writes = [self._delete(gone, origin)] if gone is not None else []
        writes.append(Write(target_key(self.template, record), upsert(self.template, record, origin)))
        return self._emit(memory, writes, version, new_key, gone)

    def _again(self, change: Mapping[str, Any], memory: Memory, source_id: str) -> Outcome:
        """The writes of the change that produced ``memory``, again, at the version they were sent with."""
        origin = {**self.origin(change, source_id), "version": memory.get("emitted")}
        gone, key = memory.get("gone"), memory.get("key")
        writes = [self._delete(gone, origin)] if gone is not None else []
        row = change.get("after")
        if change["op"] != "d" and key is not None and row is not None:
            record = apply(self.template, row)
            writes.append(Write(target_key(self.template, record), upsert(self.template, record, origin)))
        return Outcome(writes if origin["version"] is not None else [], memory)
