"""The registry's state, rebuilt by applying the ``_schemas`` log in order.

``State.apply`` is deterministic: every process that applies the same log reaches the same state, and that
is how several registry processes agree without a leader. A write is a *proposal*: a process appends a
record built from its own view, and the log order decides. A SCHEMA record is refused (by every process
alike) when it would break an invariant:

* a global id names one schema: a record giving a taken id to another schema is refused;
* a schema has one global id: a record giving a schema that has an id another id is refused;
* a subject version names one schema: a record reusing a taken version for another id is refused.

A refused record changes nothing; its writer sees the refusal and retries from the newer state.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from p2c.registry import records
from p2c.registry.records import JSONDict, Record

log = logging.getLogger("p2c.registry")

Identity = tuple[str, str, tuple[tuple[str, str, int], ...]]


@dataclass(frozen=True)
class StoredSchema:
    """A schema by its global id: its text (normalised when this registry wrote it), type and references."""

    schema_id: int
    text: str
    schema_type: str = "AVRO"
    references: tuple[tuple[str, str, int], ...] = ()

    @property
    def identity(self) -> Identity:
        return (self.schema_type, self.text, self.references)


@dataclass
class Version:
    subject: str
    version: int
    schema_id: int
    deleted: bool = False


@dataclass
class State:
    schemas: dict[int, StoredSchema] = field(default_factory=dict)
    ids: dict[Identity, int] = field(default_factory=dict)
    subjects: dict[str, dict[int, Version]] = field(default_factory=dict)
    configs: dict[str | None, str] = field(default_factory=dict)
    modes: dict[str | None, str] = field(default_factory=dict)
    max_id: int = 0
    applied: int = -1  # offset of the last record applied

    def apply(self, record: Record) -> str | None:
        """Apply one record; return why it was refused, or None when it was applied."""
        self.applied = max(self.applied, record.offset)
        handler = _HANDLERS.get(record.keytype)
        if handler is None:
            return None if record.keytype == records.NOOP else f"unknown keytype {record.keytype!r}"
        try:
            return handler(self, record.key, record.value)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            return f"malformed {record.keytype} record: {exc!r}"

    # -- handlers -----------------------------------------------------------------------------------------

    def _schema(self, key: JSONDict, value: JSONDict | None) -> str | None:
        subject, version = str(key["subject"]), int(key["version"])
        versions = self.subjects.get(subject, {})
        if value is None:  # hard delete of one version
            versions.pop(version, None)
            if not versions:
                self.subjects.pop(subject, None)
            return None
        refs = tuple((str(r["name"]), str(r["subject"]), int(r["version"])) for r in value.get("references") or [])
        stored = StoredSchema(int(value["id"]), str(value["schema"]), str(value.get("schemaType", "AVRO")), refs)
        taken = self.schemas.get(stored.schema_id)
        if taken is not None and taken.identity != stored.identity:
            return f"id {stored.schema_id} already names another schema"
        existing_id = self.ids.get(stored.identity)
        if existing_id is not None and existing_id != stored.schema_id:
            return f"this schema already has id {existing_id}"
        current = versions.get(version)
        if current is not None and current.schema_id != stored.schema_id:
            return f"{subject} version {version} already holds schema id {current.schema_id}"
        self.schemas[stored.schema_id] = stored
        self.ids[stored.identity] = stored.schema_id
        self.max_id = max(self.max_id, stored.schema_id)
        # A soft delete is never undone by a later record for the same version (Confluent registers a new
        # version instead), so a re-asserted or replayed record cannot resurrect a deleted version.
        deleted = bool(value.get("deleted", False)) or (current is not None and current.deleted)
        self.subjects.setdefault(subject, versions)[version] = Version(subject, version, stored.schema_id, deleted)
        return None

    def _config(self, key: JSONDict, value: JSONDict | None) -> str | None:
        subject = key.get("subject")
        if value is None:
            self.configs.pop(subject, None)
        else:
            self.configs[subject] = str(value["compatibilityLevel"]).upper()
        return None

    def _mode(self, key: JSONDict, value: JSONDict | None) -> str | None:
        subject = key.get("subject")
        if value is None:
            self.modes.pop(subject, None)
        else:
            self.modes[subject] = str(value["mode"]).upper()
        return None

    def _delete_subject(self, key: JSONDict, value: JSONDict | None) -> str | None:
        if value is None:
            return None
        upto = int(value["version"])
        for v in self.subjects.get(str(value["subject"]), {}).values():
            if v.version <= upto:
                v.deleted = True
        return None

    def _clear_subject(self, key: JSONDict, value: JSONDict | None) -> str | None:
        subject = str(key["subject"])
        versions = self.subjects.get(subject, {})
        for number in [n for n, v in versions.items() if v.deleted]:
            del versions[number]
        if not versions:
            self.subjects.pop(subject, None)
        return None

    # -- queries --------------------------------------------------------------------------------------------

    def versions(self, subject: str, deleted: bool = False) -> list[Version]:
        """The subject's versions, oldest first; soft-deleted ones only when ``deleted``."""
        found = self.subjects.get(subject, {})
        return [found[n] for n in sorted(found) if deleted or not found[n].deleted]

    def next_version(self, subject: str) -> int:
        return max(self.subjects.get(subject, {}), default=0) + 1

    def live_versions_of(self, schema_id: int, deleted: bool = False) -> list[Version]:
        return [
            v for subject in sorted(self.subjects) for v in self.versions(subject, deleted) if v.schema_id == schema_id
        ]

    def referrers(self, subject: str, version: int) -> list[Version]:
        """Live versions whose schema references ``subject`` ``version``."""
        return [
            v
            for s in sorted(self.subjects)
            for v in self.versions(s)
            if any(r[1] == subject and r[2] == version for r in self.schemas[v.schema_id].references)
        ]


_HANDLERS = {
    records.SCHEMA: State._schema,
    records.CONFIG: State._config,
    records.MODE: State._mode,
    records.DELETE_SUBJECT: State._delete_subject,
    records.CLEAR_SUBJECT: State._clear_subject,
}
