"""$filter -> parameterised SQL, checked against a real SQLite table."""

from __future__ import annotations

import sqlite3

import pytest

from p2c.sandbox.odata.filter import Bool, FilterError, parse, to_sql
from p2c.sandbox.odata.model import EntitySet, Field, Type
from p2c.sandbox.odata.query import resolver
from p2c.sandbox.odata.sqlite import Database

ITEMS = EntitySet(
    "items",
    "item",
    ("id",),
    (
        Field("id", Type.GUID),
        Field("name"),
        Field("qty", Type.INT),
        Field("price", Type.DECIMAL),
        Field("active", Type.BOOL),
        Field("modifiedon", Type.DATETIME),
        Field("due", Type.DATE),
        Field("stopped", enum="Microsoft.Dynamics.DataEntities.NoYes", members=(("No", 0), ("Yes", 1))),
    ),
)
ROWS = [
    ("00000000-0000-0000-0000-000000000001", "Alpha", 1, 9.5, 1, "2024-01-01T10:00:00.000Z", "2024-02-01", "No"),
    ("00000000-0000-0000-0000-000000000002", "Beta", 5, 20.0, 0, "2024-03-01T10:00:00.500Z", "2024-03-01", "Yes"),
    ("00000000-0000-0000-0000-000000000003", "O'Hara 50%", 10, None, 1, "2024-06-01T00:00:00.000Z", None, "No"),
    ("00000000-0000-0000-0000-000000000004", None, None, 1.25, None, None, None, None),
]


@pytest.fixture
def conn(tmp_path):  # type: ignore[no-untyped-def]
    db = Database(tmp_path / "f.sqlite")
    with db.transaction() as c:
        db.create_table(ITEMS)
        c.executemany("INSERT INTO items VALUES (?, ?, ?, ?, ?, ?, ?, ?)", ROWS)
    yield db.conn
    db.close()


def names(conn: sqlite3.Connection, text: str, wildcards: bool = False) -> list[str | None]:
    where, params = to_sql(text, resolver(ITEMS), wildcards=wildcards)
    assert "?" in where or not params
    return [r[0] for r in conn.execute(f"SELECT name FROM items WHERE {where} ORDER BY id", params)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("qty eq 5", ["Beta"]),
        ("qty gt 1 and qty le 10", ["Beta", "O'Hara 50%"]),
        ("qty lt 5 or name eq 'Beta'", ["Alpha", "Beta"]),
        ("not (qty ge 5)", ["Alpha"]),
        ("name eq null", [None]),
        ("name ne null and (price gt 10 or active eq true)", ["Alpha", "Beta", "O'Hara 50%"]),
        ("name ne 'Alpha'", ["Beta", "O'Hara 50%", None]),  # null ne 'x' is true in OData
        ("name eq 'o''hara 50%'", ["O'Hara 50%"]),  # case-insensitive, quotes escaped
        ("active eq false", ["Beta"]),
        ("price ge 9.5", ["Alpha", "Beta"]),
        ("modifiedon gt 2024-03-01T10:00:00Z", ["Beta", "O'Hara 50%"]),
        ("modifiedon lt 2024-03-01T12:00:00+01:00", ["Alpha", "Beta"]),
        ("due eq 2024-03-01", ["Beta"]),
        ("id eq 00000000-0000-0000-0000-000000000002", ["Beta"]),
        ("contains(name, '50%')", ["O'Hara 50%"]),
        ("startswith(name, 'al') or endswith(name, 'ta')", ["Alpha", "Beta"]),
        ("5 lt qty", ["O'Hara 50%"]),
    ],
)
def test_filters(conn: sqlite3.Connection, text: str, expected: list[str | None]) -> None:
    assert names(conn, text) == expected


def test_finops_wildcards_and_enum_literals(conn: sqlite3.Connection) -> None:
    assert names(conn, "name eq '*ph*'", wildcards=True) == ["Alpha"]
    assert names(conn, "name eq '*ph*'") == []
    assert names(conn, "stopped eq Microsoft.Dynamics.DataEntities.NoYes'Yes'") == ["Beta"]
    for bad in ("stopped eq 'Yes'", "stopped eq Microsoft.Dynamics.DataEntities.NoYes'Maybe'", "name eq NoYes'Yes'"):
        with pytest.raises(FilterError):
            to_sql(bad, resolver(ITEMS))


def test_finops_refuses_a_bare_date_for_a_date_time() -> None:
    with pytest.raises(FilterError, match="modifiedon"):
        to_sql("modifiedon ge 2024-01-01", resolver(ITEMS), strict_dates=True)
    assert to_sql("modifiedon ge 2024-01-01T00:00:00Z", resolver(ITEMS), strict_dates=True)[1]


def test_literals_are_parameters_not_sql() -> None:
    where, params = to_sql("name eq 'x'' OR 1=1 --'", resolver(ITEMS))
    assert where == '("name" = ?)' and params == ["x' OR 1=1 --"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nosuch eq 1", "nosuch"),
        ("qty eq 'five'", "qty"),
        ("qty eq 1.5", "qty"),
        ("active eq 1", "active"),
        ("qty gt null", "null"),
        ("qty eq", "expected"),
        ("(qty eq 1", "expected"),
        ("qty eq 1 qty", "unexpected"),
        ("qty ~ 1", "Syntax error"),
        ("contains(qty, 'x')", "string"),
    ],
)
def test_errors(text: str, message: str) -> None:
    with pytest.raises(FilterError, match=message):
        to_sql(text, resolver(ITEMS))


def test_precedence_and_binds_tighter_than_or() -> None:
    tree = parse("a eq 1 or b eq 2 and c eq 3")
    assert isinstance(tree, Bool) and tree.op == "or"
    assert isinstance(tree.operands[1], Bool) and tree.operands[1].op == "and"


def test_a_thousand_key_terms(conn: sqlite3.Connection) -> None:
    text = " or ".join(f"(name eq 'n{i}' and qty eq {i})" for i in range(1000)) + " or name eq 'Beta'"
    assert names(conn, text) == ["Beta"]
