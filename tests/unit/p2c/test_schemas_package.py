"""The Avro contracts in schemas/: valid, complete, documented, and typed as the architecture says."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import fastavro
import pytest

from p2c import schemas
from p2c.flows import WITH_SCHEMAS
from p2c.schemas_diff import Parsed, parse

MONEY = re.compile(r"(?i)(price|amount|cost|creditlimit)(perunit)?$")
QUANTITY = re.compile(r"(?i)quantity$")
TIMESTAMP = re.compile(r"(?i)^(ts_ms|modifiedon|createdon|.*datetime)$")
TOPICS = schemas.topics()


def _branches(schema: Any, parsed: Parsed) -> list[Any]:
    schema = parsed.resolve(schema)
    return [parsed.resolve(b) for b in schema] if isinstance(schema, list) else [schema]


def _fields(parsed: Parsed) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every field of every record type in the schema, as (Record.field, field)."""
    for name, named in parsed.named.items():
        if named["type"] == "record":
            for field in named["fields"]:
                yield f"{name}.{field['name']}", field


@pytest.fixture(scope="module", params=TOPICS)
def parsed(request: pytest.FixtureRequest) -> Parsed:
    return parse(schemas.load(request.param))


def test_every_topic_with_a_schema_has_a_file_and_vice_versa() -> None:
    assert sorted(t.name for t in WITH_SCHEMAS) == TOPICS
    assert len(TOPICS) == 10


@pytest.mark.parametrize("topic", TOPICS)
def test_every_file_parses_with_fastavro(topic: str) -> None:
    schema = fastavro.parse_schema(schemas.load(topic))
    assert isinstance(schema, dict) and schema["type"] == "record"


def test_unknown_topic_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match=r"p2c\.src\.crm\.accounts"):
        schemas.text("p2c.src.crm.nope")


def test_every_field_and_record_has_a_doc(parsed: Parsed) -> None:
    undocumented = [path for path, field in _fields(parsed) if not field.get("doc", "").strip()]
    assert undocumented == []
    assert [n for n, s in parsed.named.items() if s["type"] == "record" and not s.get("doc")] == []


def test_money_and_quantities_are_decimals(parsed: Parsed) -> None:
    checked = 0
    for path, field in _fields(parsed):
        if MONEY.search(field["name"]) or QUANTITY.search(field["name"]):
            logical = [b.get("logicalType") for b in _branches(field["type"], parsed) if b != "null"]
            assert logical == ["decimal"], f"{path} should be a decimal, is {field['type']}"
            checked += 1
    if "Change" in parsed.root["name"] and any(s in parsed.root["name"] for s in ("Quote", "Product")):
        assert checked, "a quote or product schema without money fields: has the pattern gone stale?"


def test_timestamps_are_timestamp_millis(parsed: Parsed) -> None:
    for path, field in _fields(parsed):
        logical = [b.get("logicalType") for b in _branches(field["type"], parsed) if isinstance(b, dict)]
        assert not {"timestamp-micros", "local-timestamp-millis", "local-timestamp-micros"} & set(logical), path
        if TIMESTAMP.match(field["name"]):
            assert "timestamp-millis" in logical, f"{path} should be timestamp-millis, is {field['type']}"


@pytest.mark.parametrize("topic", [t for t in TOPICS if ".src." in t])
def test_change_events_use_the_debezium_envelope(topic: str) -> None:
    parsed = parse(schemas.load(topic))
    assert [f["name"] for f in parsed.root["fields"]] == ["op", "before", "after", "source", "ts_ms"]
    op = parsed.resolve(parsed.root["fields"][0]["type"])
    assert op["symbols"] == ["c", "u", "d", "r"]
