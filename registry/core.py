"""The registry itself: queries over the state and the writes that go through the log.

Reads answer from the in-memory state. Writes run one at a time per process: catch up with the log, check,
propose a record, and wait until it comes back from the log. When the log order refused the proposal (another
process got there first, see ``registry.state``) the write starts over from the newer state, so global ids
stay unique across processes without a leader.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from p2c.registry import compat, records
from p2c.registry import requests as req
from p2c.registry.config import Settings
from p2c.registry.deletes import Deletes
from p2c.registry.errors import ErrorCode, RegistryError
from p2c.registry.schema import ParsedSchema, parse
from p2c.registry.state import State, StoredSchema, Version
from p2c.registry.store import Store

log = logging.getLogger("p2c.registry")

DEFAULT_LEVEL = "BACKWARD"
DEFAULT_MODE = "READWRITE"
_ATTEMPTS = 20


def _subject_not_found(subject: str) -> RegistryError:
    return RegistryError(ErrorCode.SUBJECT_NOT_FOUND, f"Subject '{subject}' not found.")


class Registry:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.state = State()
        self.write_lock = asyncio.Lock()
        self._parsed: dict[int, ParsedSchema] = {}
        self.settings = Settings(self)
        self.deletes = Deletes(self)

    async def start(self) -> int:
        """Rebuild the state from the log; return how many records that took."""
        return await self.store.start(self.state.apply)

    async def close(self) -> None:
        await self.store.close()

    async def cluster_id(self) -> str | None:
        return await self.store.cluster_id()

    # -- subjects and versions -------------------------------------------------------------------------------

    def subjects(self, deleted: bool = False, prefix: str = "") -> list[str]:
        return [s for s in sorted(self.state.subjects) if s.startswith(prefix) and self.state.versions(s, deleted)]

    def versions(self, subject: str, deleted: bool = False) -> list[int]:
        found = self.state.versions(subject, deleted)
        if not found:
            raise _subject_not_found(subject)
        return [v.version for v in found]

    def version(self, subject: str, version: str, deleted: bool = False) -> Version:
        """``subject`` at ``version`` (a number, ``latest`` or -1); soft-deleted ones only if ``deleted``."""
        wanted = req.version_id(version)
        found = self.state.versions(subject, deleted)
        if not found:
            raise _subject_not_found(subject)
        if wanted == "latest":
            return found[-1]
        for v in found:
            if v.version == wanted:
                return v
        raise RegistryError(ErrorCode.VERSION_NOT_FOUND, f"Version {version} not found.")

    def describe(self, v: Version) -> dict[str, Any]:
        """A version as Confluent returns it (``schemaType`` and ``references`` only when not defaults)."""
        return {"subject": v.subject, "version": v.version, "id": v.schema_id} | self.schema_json(v.schema_id)

    def schema_json(self, schema_id: int) -> dict[str, Any]:
        stored = self.state.schemas[schema_id]
        out: dict[str, Any] = {"schema": stored.text}
        if stored.schema_type != "AVRO":
            out["schemaType"] = stored.schema_type
        if stored.references:
            out["references"] = [{"name": n, "subject": s, "version": v} for n, s, v in stored.references]
        return out

    def schema(self, schema_id: int) -> StoredSchema:
        """The schema with this global id, while some version (soft-deleted or not) still uses it."""
        if schema_id not in self.state.schemas or not self.state.live_versions_of(schema_id, deleted=True):
            raise RegistryError(ErrorCode.SCHEMA_NOT_FOUND, f"Schema {schema_id} not found")
        return self.state.schemas[schema_id]

    def lookup(self, subject: str, body: Any, deleted: bool = False) -> dict[str, Any]:
        """The version of ``subject`` holding the schema in ``body``: 40401 or 40403 when there is none."""
        if not self.state.versions(subject, deleted):
            raise _subject_not_found(subject)
        wanted = self.parse_request(body)
        for v in reversed(self.state.versions(subject, deleted)):
            if self._identity_matches(v.schema_id, wanted):
                return self.describe(v)
        raise RegistryError(ErrorCode.SCHEMA_NOT_FOUND, "Schema not found")

    # -- parsing ---------------------------------------------------------------------------------------------

    def parse_request(self, body: Any) -> ParsedSchema:
        doc = req.body_object(body)
        refs = req.references(doc)
        return parse(doc.get("schema"), doc.get("schemaType"), refs, self._dependencies(refs, set()))

    def _dependencies(self, refs: tuple[tuple[str, str, int], ...], seen: set[tuple[str, int]]) -> list[str]:
        """Texts of the referenced schemas, deepest first, each once."""
        texts: list[str] = []
        for name, subject, number in refs:
            if (subject, number) in seen:
                continue
            seen.add((subject, number))
            target = self.state.subjects.get(subject, {}).get(number)
            if target is None:
                raise RegistryError(
                    ErrorCode.INVALID_SCHEMA,
                    f"Invalid schema: reference {name!r} to {subject!r} version {number} does not exist",
                )
            stored = self.state.schemas[target.schema_id]
            texts += [*self._dependencies(stored.references, seen), stored.text]
        return texts

    def parsed(self, schema_id: int) -> ParsedSchema:
        if schema_id not in self._parsed:
            stored = self.state.schemas[schema_id]
            deps = self._dependencies(stored.references, set())
            self._parsed[schema_id] = parse(stored.text, stored.schema_type, stored.references, deps)
        return self._parsed[schema_id]

    def _identity_matches(self, schema_id: int, wanted: ParsedSchema) -> bool:
        stored = self.state.schemas[schema_id]
        return stored.identity == (wanted.schema_type, wanted.text, wanted.references)

    # -- compatibility ---------------------------------------------------------------------------------------

    def level(self, subject: str | None) -> str:
        return self.state.configs.get(subject) or self.state.configs.get(None) or DEFAULT_LEVEL

    def mode(self, subject: str | None) -> str:
        return self.state.modes.get(subject) or self.state.modes.get(None) or DEFAULT_MODE

    def check(self, subject: str, new: ParsedSchema, against: list[Version]) -> list[str]:
        return compat.check(self.level(subject), new, [self.parsed(v.schema_id) for v in against])

    def test_compatibility(self, subject: str, version: str | None, body: Any, verbose: bool) -> dict[str, Any]:
        """POST /compatibility/subjects/{subject}/versions[/{version}]."""
        new = self.parse_request(body)
        live = self.state.versions(subject)
        if version is None:
            against = live
        else:
            wanted = req.version_id(version)
            if wanted == "latest":
                against = live[-1:]
            else:
                against = [v for v in live if v.version == wanted]
                if not against:
                    raise RegistryError(ErrorCode.VERSION_NOT_FOUND, f"Version {version} not found.")
        messages = self.check(subject, new, against)
        return {"is_compatible": not messages} | ({"messages": messages} if verbose else {})

    # -- registering -----------------------------------------------------------------------------------------

    def writable(self, subject: str | None) -> str:
        current = self.mode(subject)
        if current in ("READONLY", "READONLY_OVERRIDE"):
            where = f"Subject {subject}" if subject else "The registry"
            raise RegistryError(ErrorCode.OPERATION_NOT_PERMITTED, f"{where} is in read-only mode")
        return current

    async def register(self, subject: str, body: Any) -> dict[str, Any]:
        """POST /subjects/{subject}/versions: the id of the schema, registered now or before."""
        async with self.write_lock:
            await self.store.sync()
            current = self.writable(subject)
            new = self.parse_request(body)
            doc = req.body_object(body)
            want_id, want_version = req.explicit_int(doc, "id"), req.explicit_int(doc, "version")
            if (want_id or want_version) and current != "IMPORT":
                raise RegistryError(
                    ErrorCode.OPERATION_NOT_PERMITTED,
                    "Overriding a schema id or version is only allowed in IMPORT mode",
                )
            for _ in range(_ATTEMPTS):
                live = self.state.versions(subject)
                same = [v for v in live if self._identity_matches(v.schema_id, new)]
                if same and want_version in (None, same[-1].version):
                    return {"id": same[-1].schema_id}
                if current != "IMPORT":
                    messages = self.check(subject, new, live)
                    if messages:
                        raise RegistryError(
                            ErrorCode.INCOMPATIBLE_SCHEMA,
                            f"Schema being registered is incompatible with an earlier schema for subject "
                            f'"{subject}", details: [{", ".join(messages)}]',
                        )
                identity = (new.schema_type, new.text, new.references)
                schema_id = want_id or self.state.ids.get(identity) or self.state.max_id + 1
                number = want_version or self.state.next_version(subject)
                value = records.schema_value(
                    subject,
                    number,
                    schema_id,
                    new.text,
                    schema_type=new.schema_type,
                    references=new.references_json,
                )
                appended = await self.store.append(records.schema_key(subject, number), value)
                if appended.refused is None:
                    log.info("schema registered: subject %s version %d id %d", subject, number, schema_id)
                    return {"id": schema_id}
                if current == "IMPORT":
                    raise RegistryError(ErrorCode.OPERATION_NOT_PERMITTED, f"Cannot import: {appended.refused}")
                log.info("proposal for %s refused by the log order (%s); retrying", subject, appended.refused)
                await self._reassert(subject, number)
            raise RegistryError(ErrorCode.STORE_ERROR, f"Could not register under {subject}: too much contention")

    async def _reassert(self, subject: str, number: int) -> None:
        """Write the winning record for ``subject`` ``number`` again, so that it, not the refused proposal
        with the same key, is the last value a compacted ``_schemas`` keeps for that key."""
        winner = self.state.subjects.get(subject, {}).get(number)
        if winner is not None:
            await self.store.append(records.schema_key(subject, number), self.record_value(winner))

    def record_value(self, v: Version, deleted: bool | None = None) -> records.JSONDict:
        stored = self.state.schemas[v.schema_id]
        refs = [{"name": n, "subject": s, "version": r} for n, s, r in stored.references]
        return records.schema_value(
            v.subject,
            v.version,
            v.schema_id,
            stored.text,
            schema_type=stored.schema_type,
            references=refs,
            deleted=v.deleted if deleted is None else deleted,
        )
