"""The core over an in-memory log: registration, ids, deletes, configs, and two registries racing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from p2c.registry import ErrorCode, MemoryLog, MemoryStore, Registry, RegistryError
from p2c.registry.records import JSONDict
from p2c.registry.store import Appended
from tests.unit.registry.registry_support import V1, V2, V3_BREAKS_BACKWARD, rec, started

pytestmark = pytest.mark.timeout(5)


def run(coro: Awaitable[Any]) -> Any:
    async def main() -> Any:
        return await coro

    return asyncio.run(main())


def code_of(exc: pytest.ExceptionInfo[RegistryError]) -> ErrorCode:
    return exc.value.code


def test_register_is_idempotent_and_ids_are_shared_across_subjects() -> None:
    async def scenario() -> None:
        r = await started()
        assert await r.register("a", {"schema": V1}) == {"id": 1}
        # Whitespace and the long form of primitives do not make another schema.
        same = json.dumps(json.loads(V1), indent=2).replace('"int"', '{"type": "int"}')
        assert await r.register("a", {"schema": same}) == {"id": 1}
        assert await r.register("b", {"schema": V1}) == {"id": 1}
        assert await r.register("a", {"schema": V2}) == {"id": 2}
        assert r.versions("a") == [1, 2] and r.versions("b") == [1]
        assert r.lookup("a", {"schema": same})["version"] == 1

    run(scenario())


def test_incompatible_schema_is_409_and_not_registered() -> None:
    async def scenario() -> None:
        r = await started()
        await r.register("a", {"schema": V2})
        with pytest.raises(RegistryError) as exc:
            await r.register("a", {"schema": V3_BREAKS_BACKWARD})
        assert code_of(exc) == ErrorCode.INCOMPATIBLE_SCHEMA and exc.value.code.http_status == 409
        assert "READER_FIELD_MISSING_DEFAULT_VALUE" in exc.value.message
        await r.settings.set_config("a", {"compatibility": "FORWARD"})
        assert await r.register("a", {"schema": V3_BREAKS_BACKWARD}) == {"id": 2}

    run(scenario())


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"schema": "{not json"}, "not valid JSON"),
        ({"schema": '{"type": "record", "name": "R", "fields": [{"name": "a", "type": "nope"}]}'}, "nope"),
        ({"schema": '{"type": "record", "name": "R"}'}, "no fields"),
        ({"schema": '["int", "int"]'}, "duplicate int"),
        ({"schema": '{"type": "enum", "name": "E", "symbols": ["A", "A"]}'}, "unique"),
        ({"schema": ""}, "non-empty string"),
        ({"schema": V1, "schemaType": "PROTOBUF"}, "only AVRO"),
        ({"schema": V1, "references": [{"name": "X", "subject": "none", "version": 1}]}, "does not exist"),
    ],
)
def test_invalid_schemas_are_42201_with_the_reason(body: JSONDict, expected: str) -> None:
    async def scenario() -> None:
        r = await started()
        with pytest.raises(RegistryError) as exc:
            await r.register("a", body)
        assert code_of(exc) == ErrorCode.INVALID_SCHEMA and expected in exc.value.message

    run(scenario())


def test_references_resolve_named_types_from_other_subjects() -> None:
    async def scenario() -> None:
        r = await started()
        address = json.dumps(
            {"type": "record", "name": "Address", "namespace": "p2c", "fields": [{"name": "city", "type": "string"}]}
        )
        await r.register("address", {"schema": address})
        ref = [{"name": "p2c.Address", "subject": "address", "version": 1}]
        customer = rec(("home", "p2c.Address"), name="Customer")
        assert await r.register("customer", {"schema": customer, "references": ref}) == {"id": 2}
        assert r.describe(r.version("customer", "1"))["references"] == ref
        with pytest.raises(RegistryError) as exc:
            await r.deletes.delete_version("address", "1")
        assert code_of(exc) == ErrorCode.REFERENCE_EXISTS

    run(scenario())


def test_delete_soft_then_permanent_with_confluent_errors() -> None:
    async def scenario() -> None:
        r = await started()
        await r.register("a", {"schema": V1})
        await r.register("a", {"schema": V2})
        with pytest.raises(RegistryError) as exc:
            await r.deletes.delete_version("a", "1", permanent=True)
        assert code_of(exc) == ErrorCode.SCHEMAVERSION_NOT_SOFT_DELETED
        assert await r.deletes.delete_version("a", "1") == 1
        with pytest.raises(RegistryError) as exc:
            await r.deletes.delete_version("a", "1")
        assert code_of(exc) == ErrorCode.SCHEMAVERSION_SOFT_DELETED
        assert r.versions("a") == [2] and r.versions("a", deleted=True) == [1, 2]
        with pytest.raises(RegistryError) as exc:
            await r.deletes.delete_subject("a", permanent=True)
        assert code_of(exc) == ErrorCode.SUBJECT_NOT_SOFT_DELETED
        assert await r.deletes.delete_subject("a") == [2]
        with pytest.raises(RegistryError) as exc:
            await r.deletes.delete_subject("a")
        assert code_of(exc) == ErrorCode.SUBJECT_SOFT_DELETED
        assert r.subjects() == [] and r.subjects(deleted=True) == ["a"]
        assert r.schema(1).text == json.dumps(json.loads(V1), separators=(",", ":"))  # still readable by id
        assert await r.deletes.delete_subject("a", permanent=True) == [1, 2]
        with pytest.raises(RegistryError) as exc:
            r.schema(1)
        assert code_of(exc) == ErrorCode.SCHEMA_NOT_FOUND
        with pytest.raises(RegistryError) as exc:
            await r.deletes.delete_subject("a")
        assert code_of(exc) == ErrorCode.SUBJECT_NOT_FOUND
        # After a permanent delete the versions start again, but the ids are kept for their schemas.
        assert await r.register("a", {"schema": V2}) == {"id": 2}
        assert r.versions("a") == [1]

    run(scenario())


def test_modes_guard_writes() -> None:
    async def scenario() -> None:
        r = await started()
        await r.register("a", {"schema": V1})
        await r.settings.set_mode(None, {"mode": "READONLY"})
        with pytest.raises(RegistryError) as exc:
            await r.register("b", {"schema": V1})
        assert code_of(exc) == ErrorCode.OPERATION_NOT_PERMITTED
        await r.settings.set_mode(None, {"mode": "READWRITE"})
        with pytest.raises(RegistryError) as exc:
            await r.register("b", {"schema": V1, "id": 50})
        assert code_of(exc) == ErrorCode.OPERATION_NOT_PERMITTED
        with pytest.raises(RegistryError) as exc:
            await r.settings.set_mode(None, {"mode": "IMPORT"})
        assert code_of(exc) == ErrorCode.OPERATION_NOT_PERMITTED  # subjects exist
        await r.settings.set_mode("imported", {"mode": "IMPORT"})
        assert await r.register("imported", {"schema": V2, "id": 50, "version": 7}) == {"id": 50}
        assert r.describe(r.version("imported", "latest"))["version"] == 7
        assert await r.register("c", {"schema": rec(("z", "int"))}) == {"id": 51}
        with pytest.raises(RegistryError) as exc:
            await r.settings.set_mode(None, {"mode": "SLEEPY"})
        assert code_of(exc) == ErrorCode.INVALID_MODE

    run(scenario())


def test_a_second_registry_on_the_same_log_rebuilds_the_same_state() -> None:
    async def scenario() -> None:
        log = MemoryLog()
        a = await started(log)
        await a.register("a", {"schema": V1})
        await a.register("a", {"schema": V2})
        await a.settings.set_config("a", {"compatibility": "full"})
        await a.deletes.delete_version("a", "1")
        b = await started(log)
        assert b.state == a.state

    run(scenario())


class RacingStore(MemoryStore):
    """Lets a rival write land between this store's catching up and its own append, once."""

    def __init__(self, log: MemoryLog, rival: Callable[[], Awaitable[Any]]) -> None:
        super().__init__(log)
        self.rival: Callable[[], Awaitable[Any]] | None = rival

    async def append(self, key: JSONDict, value: JSONDict | None) -> Appended:
        if self.rival is not None:
            rival, self.rival = self.rival, None
            await rival()
        return await super().append(key, value)


def test_racing_registries_never_share_an_id_and_the_loser_retries() -> None:
    async def scenario() -> None:
        log = MemoryLog()
        a = await started(log)
        b = Registry(RacingStore(log, lambda: a.register("orders", {"schema": V1})))
        await b.start()
        # b proposes id 1 for another schema; a's id 1 lands first; b's proposal is refused, b retries.
        assert await b.register("customers", {"schema": rec(("name", "string"))}) == {"id": 2}
        await a.store.sync()
        assert a.state == b.state
        assert {i: s.text for i, s in a.state.schemas.items()} == {
            1: json.dumps(json.loads(V1), separators=(",", ":")),
            2: json.dumps(json.loads(rec(("name", "string"))), separators=(",", ":")),
        }

    run(scenario())


def test_racing_on_the_same_subject_checks_compatibility_against_the_winner() -> None:
    async def scenario() -> None:
        log = MemoryLog()
        a = await started(log)
        await a.register("s", {"schema": V1})
        b = Registry(RacingStore(log, lambda: a.register("s", {"schema": V2})))
        await b.start()
        # b checks b:int against V1 (fine: b has a default) and proposes version 2; a's V2 (b:string) lands
        # first; b's proposal is refused, and against V2 an int b no longer reads: 409, nothing registered.
        int_b = rec(("a", "int"), {"name": "b", "type": "int", "default": 0})
        with pytest.raises(RegistryError) as exc:
            await b.register("s", {"schema": int_b})
        assert code_of(exc) == ErrorCode.INCOMPATIBLE_SCHEMA
        await a.store.sync()
        assert a.versions("s") == b.versions("s") == [1, 2]
        assert b.describe(b.version("s", "2"))["id"] == 2

    run(scenario())
