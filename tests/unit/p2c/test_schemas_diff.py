"""The local schema diff and Avro read-compatibility, table-tested on small schemas."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from p2c import schemas
from p2c.schemas_diff import FieldChange, InvalidSchema, diff, parse, read_problems

ADDRESS = {
    "type": "record",
    "name": "Address",
    "fields": [{"name": "city", "type": ["null", "string"], "default": None, "doc": "City."}],
}


def record(*fields: dict[str, Any], name: str = "Account") -> dict[str, Any]:
    return {"type": "record", "name": name, "namespace": "p2c.test", "fields": list(fields)}


def field(name: str, type_: Any, doc: str | None = "x", **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "type": type_, **extra}
    if doc is not None:
        out["doc"] = doc
    return out


BASE = record(field("id", "string"), field("name", ["null", "string"], default=None))
NESTED = record(field("id", "string"), field("after", ["null", copy.deepcopy(ADDRESS)], default=None))


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(BASE, BASE, [], id="same"),
        pytest.param(
            BASE,
            record(*BASE["fields"], field("size", "int", default=0)),
            [FieldChange("added", "size", "int, default 0")],
            id="added with default",
        ),
        pytest.param(
            BASE,
            record(*BASE["fields"], field("size", "int")),
            [FieldChange("added", "size", "int, default (none)")],
            id="added without default",
        ),
        pytest.param(BASE, record(BASE["fields"][0]), [FieldChange("removed", "name", "null | string")], id="removed"),
        pytest.param(
            BASE,
            record(field("id", "long"), BASE["fields"][1]),
            [FieldChange("changed", "id", "type: string -> long")],
            id="type",
        ),
        pytest.param(
            BASE,
            record(BASE["fields"][0], field("name", ["string", "null"], default="n/a")),
            [
                FieldChange("changed", "name", "type: null | string -> string | null"),
                FieldChange("changed", "name", 'default: null -> "n/a"'),
            ],
            id="type and default",
        ),
        pytest.param(
            BASE,
            record(field("id", "string", doc="Key."), BASE["fields"][1]),
            [FieldChange("changed", "id", "doc: 'x' -> 'Key.'")],
            id="doc",
        ),
        pytest.param(
            record(field("amount", {"type": "bytes", "logicalType": "decimal", "precision": 19, "scale": 4})),
            record(field("amount", {"type": "bytes", "logicalType": "decimal", "precision": 23, "scale": 5})),
            [FieldChange("changed", "amount", "type: decimal(19,4) -> decimal(23,5)")],
            id="decimal precision",
        ),
        pytest.param(
            record(field("op", {"type": "enum", "name": "Op", "symbols": ["c", "u"]})),
            record(field("op", {"type": "enum", "name": "Op", "symbols": ["c", "u", "d"]})),
            [FieldChange("changed", "op", "type: enum Op{c,u} -> enum Op{c,u,d}")],
            id="enum symbols",
        ),
        pytest.param(
            NESTED,
            record(
                NESTED["fields"][0],
                field(
                    "after",
                    [
                        "null",
                        {
                            **ADDRESS,
                            "fields": [field("city", "string"), field("zip", ["null", "string"], default=None)],
                        },
                    ],
                    default=None,
                ),
            ),
            [
                FieldChange("added", "after.Address.zip", "null | string, default null"),
                FieldChange("changed", "after.Address.city", "type: null | string -> string"),
                FieldChange("changed", "after.Address.city", "default: null -> (none)"),
                FieldChange("changed", "after.Address.city", "doc: 'City.' -> 'x'"),
            ],
            id="nested record",
        ),
        pytest.param(
            record(field("lines", {"type": "array", "items": copy.deepcopy(ADDRESS)})),
            record(field("lines", {"type": "array", "items": {**ADDRESS, "fields": []}})),
            [FieldChange("removed", "lines.Address.city", "null | string")],
            id="records inside arrays",
        ),
    ],
)
def test_diff(old: dict[str, Any], new: dict[str, Any], expected: list[FieldChange]) -> None:
    assert diff(parse(old), parse(new)) == expected


def test_diff_follows_named_references() -> None:
    """``after`` refers to the Account defined in ``before``: its fields get their own paths."""
    old = schemas.load("p2c.src.crm.accounts")
    new = copy.deepcopy(old)
    new["fields"][1]["type"][1]["fields"].append(field("tier", ["null", "string"], default=None))
    paths = [c.path for c in diff(parse(old), parse(new))]
    assert paths == ["before.Account.tier", "after.Account.tier"]


def test_recursive_records_terminate() -> None:
    node = record(field("value", "int"), field("next", ["null", "p2c.test.Node"], default=None), name="Node")
    assert diff(parse(node), parse(node)) == []
    assert read_problems(parse(node), parse(node)) == []


DEC = {"type": "bytes", "logicalType": "decimal", "precision": 19, "scale": 4}


@pytest.mark.parametrize(
    ("reader", "writer", "problem"),
    [
        pytest.param(BASE, BASE, None, id="same"),
        pytest.param(record(*BASE["fields"], field("size", "int", default=0)), BASE, None, id="new field with default"),
        pytest.param(
            record(*BASE["fields"], field("size", "int")),
            BASE,
            "size: the reader's field has no default",
            id="new field without default",
        ),
        pytest.param(record(BASE["fields"][0]), BASE, None, id="reader drops a field"),
        pytest.param(record(field("id", "string", aliases=["key"])), record(field("key", "string")), None, id="alias"),
        pytest.param(record(field("n", "long")), record(field("n", "int")), None, id="int promotes to long"),
        pytest.param(
            record(field("n", "int")),
            record(field("n", "long")),
            "n: the writer's long cannot be read as int",
            id="long does not narrow to int",
        ),
        pytest.param(record(field("n", "string")), record(field("n", "bytes")), None, id="bytes to string"),
        pytest.param(
            record(field("n", ["null", "long"], default=None)),
            record(field("n", "int")),
            None,
            id="writer type in reader union via promotion",
        ),
        pytest.param(
            record(field("n", "string")),
            record(field("n", ["null", "string"], default=None)),
            "n: the writer's null cannot be read as string",
            id="optional to required",
        ),
        pytest.param(
            record(field("n", ["null", "int"], default=None)),
            record(field("n", "string")),
            "has no branch for the writer's string",
            id="no union branch",
        ),
        pytest.param(
            record(field("op", {"type": "enum", "name": "Op", "symbols": ["c", "u", "d"]})),
            record(field("op", {"type": "enum", "name": "Op", "symbols": ["c", "u"]})),
            None,
            id="enum grows",
        ),
        pytest.param(
            record(field("op", {"type": "enum", "name": "Op", "symbols": ["c"]})),
            record(field("op", {"type": "enum", "name": "Op", "symbols": ["c", "u"]})),
            "lacks the writer's symbols u",
            id="enum shrinks",
        ),
        pytest.param(
            record(field("op", {"type": "enum", "name": "Op", "symbols": ["c"], "default": "c"})),
            record(field("op", {"type": "enum", "name": "Op", "symbols": ["c", "u"]})),
            None,
            id="enum shrinks with default",
        ),
        pytest.param(
            record(field("a", DEC)),
            record(field("a", {**DEC, "precision": 23})),
            None,
            id="logical types resolve as their underlying type",
        ),
        pytest.param(
            record(field("m", {"type": "map", "values": "long"})),
            record(field("m", {"type": "map", "values": "string"})),
            "m: the writer's string cannot be read as long",
            id="map values",
        ),
        pytest.param(
            record(field("f", {"type": "fixed", "name": "F", "size": 4})),
            record(field("f", {"type": "fixed", "name": "F", "size": 8})),
            "fixed size 8",
            id="fixed",
        ),
        pytest.param(
            record(field("id", "string"), name="Other"),
            record(field("id", "string")),
            "record Other cannot read the writer's Account",
            id="record renamed",
        ),
        pytest.param(
            NESTED,
            record(
                NESTED["fields"][0],
                field(
                    "after",
                    ["null", {**ADDRESS, "fields": [field("city", ["null", "string"], default=None)]}],
                    default=None,
                ),
            ),
            None,
            id="nested same",
        ),
        pytest.param(
            record(
                NESTED["fields"][0],
                field(
                    "after", ["null", {**ADDRESS, "fields": [*ADDRESS["fields"], field("zip", "string")]}], default=None
                ),
            ),
            NESTED,
            "after.Address.zip: the reader's field has no default",
            id="nested path",
        ),
    ],
)
def test_read_problems(reader: dict[str, Any], writer: dict[str, Any], problem: str | None) -> None:
    problems = read_problems(parse(reader), parse(writer))
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1 and problem in problems[0], problems


def test_every_contract_reads_its_own_data() -> None:
    for topic in schemas.topics():
        parsed = parse(schemas.load(topic))
        assert read_problems(parsed, parsed) == [], topic


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"type": "record", "name": "R"}', "not a valid Avro schema"),
        ('{"type": "record", "name": "R", "fields": [{"name": "a", "type": "Nope"}]}', "not a valid Avro schema"),
        (
            '{"type": "record", "name": "R", "fields": [{"name": "a", "type": "int", "default": "x"}]}',
            "not a valid Avro schema",
        ),
    ],
)
def test_invalid_schemas_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(InvalidSchema, match=message):
        parse(text)
