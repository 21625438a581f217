"""The state machine behind the log: deterministic, refusing proposals that break an invariant."""

from __future__ import annotations

import pytest

from p2c.registry import records
from p2c.registry.records import JSONDict, Record
from p2c.registry.state import State

pytestmark = pytest.mark.timeout(5)


def replay(*entries: tuple[JSONDict, JSONDict | None]) -> tuple[State, list[str | None]]:
    state = State()
    outcomes = [state.apply(Record(i, k, v)) for i, (k, v) in enumerate(entries)]
    return state, outcomes


def schema(subject: str, version: int, schema_id: int, text: str, deleted: bool = False) -> tuple[JSONDict, JSONDict]:
    return records.schema_key(subject, version), records.schema_value(
        subject, version, schema_id, text, deleted=deleted
    )


def test_a_taken_id_is_refused_for_another_schema() -> None:
    state, outcomes = replay(schema("a", 1, 1, '"int"'), schema("b", 1, 1, '"long"'))
    assert outcomes[0] is None and outcomes[1] is not None and "id 1" in outcomes[1]
    assert "b" not in state.subjects and state.schemas[1].text == '"int"'


def test_a_schema_keeps_its_first_id() -> None:
    state, outcomes = replay(schema("a", 1, 1, '"int"'), schema("b", 1, 2, '"int"'))
    assert outcomes[1] == "this schema already has id 1"
    assert state.max_id == 1


def test_the_same_schema_under_another_subject_shares_the_id() -> None:
    state, outcomes = replay(schema("a", 1, 1, '"int"'), schema("b", 1, 1, '"int"'))
    assert outcomes == [None, None]
    assert [v.subject for v in state.live_versions_of(1)] == ["a", "b"]


def test_a_taken_version_is_refused_and_a_replayed_record_is_harmless() -> None:
    state, outcomes = replay(schema("a", 1, 1, '"int"'), schema("a", 1, 2, '"long"'), schema("a", 1, 1, '"int"'))
    assert outcomes[0] is None and outcomes[1] is not None and outcomes[2] is None
    assert [v.schema_id for v in state.versions("a")] == [1]
    assert 2 not in state.schemas


def test_soft_and_hard_deletes() -> None:
    state, _ = replay(
        schema("a", 1, 1, '"int"'),
        schema("a", 2, 2, '"long"'),
        schema("a", 1, 1, '"int"', deleted=True),
    )
    assert [v.version for v in state.versions("a")] == [2]
    assert [v.version for v in state.versions("a", deleted=True)] == [1, 2]
    state.apply(Record(3, *schema("a", 1, 1, '"int"')))  # a replayed registration does not undelete
    assert [v.version for v in state.versions("a")] == [2]
    state.apply(Record(4, records.delete_subject_key("a"), {"subject": "a", "version": 2}))
    assert state.versions("a") == [] and len(state.versions("a", deleted=True)) == 2
    state.apply(Record(5, records.schema_key("a", 1), None))
    state.apply(Record(6, records.schema_key("a", 2), None))
    assert "a" not in state.subjects
    assert state.next_version("a") == 1 and state.max_id == 2  # ids are never reused


def test_config_mode_and_unknown_records() -> None:
    state, outcomes = replay(
        (records.config_key(None), {"compatibilityLevel": "full"}),
        (records.config_key("s"), {"compatibilityLevel": "NONE"}),
        (records.config_key("s"), None),
        (records.mode_key(None), {"mode": "READONLY"}),
        ({"keytype": "NOOP", "magic": 0}, None),
        ({"keytype": "SOMETHING_NEW", "magic": 0}, {}),
        (records.schema_key("x", 1), {"subject": "x"}),
    )
    assert state.configs == {None: "FULL"} and state.modes == {None: "READONLY"}
    assert outcomes[:5] == [None] * 5
    assert outcomes[5] is not None and "unknown keytype" in outcomes[5]
    assert outcomes[6] is not None and "malformed" in outcomes[6]
    assert state.applied == 6


def test_records_round_trip_through_bytes_and_skip_foreign_ones() -> None:
    key, value = schema("a", 1, 7, '"int"')
    decoded = records.decode(3, records.encode(key), records.encode(value))
    assert decoded == Record(3, key, value)
    assert records.decode(4, b"not json", None) is None
    assert records.decode(5, None, b"{}") is None
    assert records.decode(6, b"[1]", None) is None
