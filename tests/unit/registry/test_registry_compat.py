"""Avro compatibility, table-tested: reader/writer resolution and the levels built on it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from p2c.registry import compat
from p2c.registry.schema import ParsedSchema, parse

pytestmark = pytest.mark.timeout(5)


def avro(doc: Any) -> ParsedSchema:
    return parse(json.dumps(doc))


def record(*fields: dict[str, Any], name: str = "R", **extra: Any) -> ParsedSchema:
    return avro({"type": "record", "name": name, "fields": list(fields), **extra})


def f(name: str, type_: Any, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, **extra}


def enum(*symbols: str, **extra: Any) -> dict[str, Any]:
    return {"type": "enum", "name": "E", "symbols": list(symbols), **extra}


# (reader, writer, readable?, error type when not)
CASES = [
    ("same record", record(f("a", "int")), record(f("a", "int")), True, None),
    (
        "reader adds field with default",
        record(f("a", "int"), f("b", "string", default="")),
        record(f("a", "int")),
        True,
        None,
    ),
    (
        "reader adds field without default",
        record(f("a", "int"), f("b", "string")),
        record(f("a", "int")),
        False,
        "READER_FIELD_MISSING_DEFAULT_VALUE",
    ),
    ("writer field dropped by reader", record(f("a", "int")), record(f("a", "int"), f("b", "string")), True, None),
    ("int promotes to long", record(f("a", "long")), record(f("a", "int")), True, None),
    ("int promotes to float", record(f("a", "float")), record(f("a", "int")), True, None),
    ("int promotes to double", record(f("a", "double")), record(f("a", "int")), True, None),
    ("long promotes to double", record(f("a", "double")), record(f("a", "long")), True, None),
    ("float promotes to double", record(f("a", "double")), record(f("a", "float")), True, None),
    ("long does not narrow to int", record(f("a", "int")), record(f("a", "long")), False, "TYPE_MISMATCH"),
    ("double does not narrow to float", record(f("a", "float")), record(f("a", "double")), False, "TYPE_MISMATCH"),
    ("string reads bytes", record(f("a", "string")), record(f("a", "bytes")), True, None),
    ("bytes reads string", record(f("a", "bytes")), record(f("a", "string")), True, None),
    ("string does not read int", record(f("a", "string")), record(f("a", "int")), False, "TYPE_MISMATCH"),
    ("enum symbol added in reader", record(f("e", enum("A", "B", "C"))), record(f("e", enum("A", "B"))), True, None),
    (
        "enum symbol removed in reader",
        record(f("e", enum("A"))),
        record(f("e", enum("A", "B"))),
        False,
        "MISSING_ENUM_SYMBOLS",
    ),
    (
        "enum symbol removed, reader default",
        record(f("e", enum("A", "Z", default="Z"))),
        record(f("e", enum("A", "B"))),
        True,
        None,
    ),
    ("enum renamed", record(f("e", {**enum("A"), "name": "F"})), record(f("e", enum("A"))), False, "NAME_MISMATCH"),
    ("record renamed", record(f("a", "int"), name="S"), record(f("a", "int")), False, "NAME_MISMATCH"),
    ("record renamed, reader alias", record(f("a", "int"), name="S", aliases=["R"]), record(f("a", "int")), True, None),
    (
        "namespace change is fine",
        record(f("a", "int"), namespace="x.y"),
        record(f("a", "int"), namespace="z"),
        True,
        None,
    ),
    ("field renamed, reader alias", record(f("b", "int", aliases=["a"])), record(f("a", "int")), True, None),
    ("union widened in reader", record(f("a", ["null", "int", "string"])), record(f("a", ["null", "int"])), True, None),
    (
        "union narrowed in reader",
        record(f("a", ["null", "int"])),
        record(f("a", ["null", "int", "string"])),
        False,
        "MISSING_UNION_BRANCH",
    ),
    ("reader union reads plain writer", record(f("a", ["null", "long"])), record(f("a", "int")), True, None),
    ("plain reader reads one-branch union", record(f("a", "int")), record(f("a", ["int"])), True, None),
    ("plain reader, nullable writer", record(f("a", "int")), record(f("a", ["null", "int"])), False, "TYPE_MISMATCH"),
    (
        "array items promote",
        avro({"type": "array", "items": "long"}),
        avro({"type": "array", "items": "int"}),
        True,
        None,
    ),
    (
        "array items narrow",
        avro({"type": "array", "items": "int"}),
        avro({"type": "array", "items": "long"}),
        False,
        "TYPE_MISMATCH",
    ),
    (
        "map values",
        avro({"type": "map", "values": "string"}),
        avro({"type": "map", "values": "int"}),
        False,
        "TYPE_MISMATCH",
    ),
    (
        "array is not a map",
        avro({"type": "array", "items": "int"}),
        avro({"type": "map", "values": "int"}),
        False,
        "TYPE_MISMATCH",
    ),
    (
        "fixed same size",
        avro({"type": "fixed", "name": "F", "size": 4}),
        avro({"type": "fixed", "name": "F", "size": 4}),
        True,
        None,
    ),
    (
        "fixed other size",
        avro({"type": "fixed", "name": "F", "size": 8}),
        avro({"type": "fixed", "name": "F", "size": 4}),
        False,
        "FIXED_SIZE_MISMATCH",
    ),
    (
        "nested record gains a required field",
        record(f("n", {"type": "record", "name": "N", "fields": [f("x", "int"), f("y", "int")]})),
        record(f("n", {"type": "record", "name": "N", "fields": [f("x", "int")]})),
        False,
        "READER_FIELD_MISSING_DEFAULT_VALUE",
    ),
    (
        "named type referenced by name",
        record(f("a", enum("A", "B")), f("b", "E")),
        record(f("a", enum("A")), f("b", "E")),
        True,
        None,
    ),
    (
        "recursive type",
        record(f("v", "int"), f("next", ["null", "R"], default=None)),
        record(f("v", "int"), f("next", ["null", "R"], default=None)),
        True,
        None,
    ),
    (
        "logical type: same underlying type",
        record(f("t", "long")),
        record(f("t", {"type": "long", "logicalType": "timestamp-millis"})),
        True,
        None,
    ),
    (
        "logical type: decimal scale changed",
        record(f("d", {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 3})),
        record(f("d", {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2})),
        False,
        "TYPE_MISMATCH",
    ),
    ("primitive short and long forms", record(f("a", {"type": "string"})), record(f("a", "string")), True, None),
]


@pytest.mark.parametrize(("reader", "writer", "ok", "error_type"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_reader_reads_writer(reader: ParsedSchema, writer: ParsedSchema, ok: bool, error_type: str | None) -> None:
    found = compat.can_read(reader, writer)
    assert (not found) is ok, found
    if error_type is not None:
        assert found[0].error_type == error_type


V1 = record(f("a", "int"))
V2 = record(f("a", "int"), f("b", "string", default=""))  # added with a default: compatible both ways
V3 = record(f("a", "int"), f("b", "string", default=""), f("c", "int"))  # added without a default


@pytest.mark.parametrize(
    ("level", "new", "previous", "ok"),
    [
        ("BACKWARD", V2, [V1], True),
        ("BACKWARD", V3, [V2], False),  # the new reader lacks a default for c
        ("FORWARD", V3, [V2], True),  # the old reader skips c
        ("FORWARD", V1, [V2], True),  # the old reader has a default for b
        ("FULL", V3, [V2], False),
        ("FULL", V2, [V1], True),
        ("NONE", record(f("z", "bytes"), name="Other"), [V1], True),
        # Removing a field without default: backward fine, forward broken.
        ("BACKWARD", record(f("b", "string", default="")), [record(f("a", "int"), f("b", "string", default=""))], True),
        ("FORWARD", record(f("b", "string", default="")), [record(f("a", "int"), f("b", "string", default=""))], False),
        # Transitive levels look at every previous version, the plain ones at the last only.
        ("BACKWARD", record(f("a", "long")), [record(f("a", "double")), record(f("a", "int"))], True),
        ("BACKWARD_TRANSITIVE", record(f("a", "long")), [record(f("a", "double")), record(f("a", "int"))], False),
        ("FORWARD_TRANSITIVE", record(f("a", "int")), [record(f("a", "int")), record(f("a", "long"))], True),
        ("FULL_TRANSITIVE", record(f("a", "long")), [record(f("a", "int")), record(f("a", "long"))], False),
        ("BACKWARD", V1, [], True),
    ],
)
def test_levels(level: str, new: ParsedSchema, previous: list[ParsedSchema], ok: bool) -> None:
    assert (not compat.check(level, new, previous)) is ok


def test_messages_name_the_problem_the_old_schema_and_the_level() -> None:
    messages = compat.check("BACKWARD", V3, [V2])
    assert "READER_FIELD_MISSING_DEFAULT_VALUE" in messages[0] and "'c'" in messages[0]
    assert messages[-2] == f"{{oldSchema: '{V2.text}'}}"
    assert messages[-1] == "{compatibility: 'BACKWARD'}"
