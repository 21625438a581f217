"""The compiled Avro code gives fastavro's bytes and values, or says it is not sure (NotCompiled).

Random values of every shipped schema, written by both; fastavro's bytes read by both; random bytes and
truncated values read by both: where the compiled code answers, its answer is fastavro's.
"""

from __future__ import annotations

import contextlib
import datetime
import decimal
import io
from typing import Any

import fastavro
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from p2c import avro_compiled, schemas
from p2c.avro_compiled import NotCompiled, compile_reader, compile_writer

UTC = datetime.UTC
SHIPPED = schemas.shipped_topics()


def parsed(topic: str) -> Any:
    return fastavro.parse_schema(schemas.load(topic))


def fastavro_bytes(schema: Any, value: Any) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, schema, value)
    return out.getvalue()


def fastavro_value(schema: Any, data: bytes) -> Any:
    return fastavro.schemaless_reader(io.BytesIO(data), schema, None)


def values(schema: Any, named: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values fastavro writes for ``schema``: what p2c's mappings produce, and the edges of each type."""
    if isinstance(schema, str) and schema in named:
        schema = named[schema]
    if isinstance(schema, list):
        return st.one_of([values(branch, named) for branch in schema])
    if isinstance(schema, dict):
        kind, logical = schema["type"], schema.get("logicalType")
        if logical == "decimal":
            scale, precision = schema.get("scale", 0), schema["precision"]
            bound = decimal.Decimal(10 ** (precision - scale)) - decimal.Decimal(1).scaleb(-scale)
            return st.decimals(min_value=-bound, max_value=bound, places=scale, allow_nan=False)
        if logical == "timestamp-millis":
            return st.datetimes(
                min_value=datetime.datetime(1900, 1, 1), max_value=datetime.datetime(2200, 1, 1), timezones=st.just(UTC)
            ) | st.integers(-(2**40), 2**40)
        if logical == "date":
            return st.dates()
        if logical == "uuid":
            return st.uuids().map(str) | st.uuids()
        if kind == "record":
            fields = {f["name"]: values(f["type"], named) for f in schema["fields"]}
            optional = {f["name"] for f in schema["fields"] if "default" in f}
            required = {k: v for k, v in fields.items() if k not in optional}
            return st.fixed_dictionaries(required, optional={k: fields[k] for k in optional})
        if kind == "enum":
            return st.sampled_from(schema["symbols"])
        if kind == "array":
            return st.lists(values(schema["items"], named), max_size=4)
        return values(kind, named)
    return {
        "null": st.none(),
        "boolean": st.booleans(),
        "int": st.integers(-(2**31), 2**31 - 1),
        "long": st.integers(-(2**63), 2**63 - 1),
        "bytes": st.binary(max_size=80),
        "string": st.text(max_size=80),
    }[schema]


def named_of(schema: Any) -> dict[str, Any]:
    found: dict[str, Any] = schema.get("__named_schemas", {})
    return found


@pytest.mark.parametrize("topic", SHIPPED)
def test_every_shipped_schema_compiles(topic: str) -> None:
    assert compile_writer(parsed(topic)) is not None
    assert compile_reader(parsed(topic)) is not None


@pytest.mark.parametrize("topic", SHIPPED)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_writes_fastavros_bytes_and_reads_its_values(topic: str, data: st.DataObject) -> None:
    schema = parsed(topic)
    value = data.draw(values(schema, named_of(schema)))
    expected = fastavro_bytes(schema, value)
    write, read = compile_writer(schema), compile_reader(schema)
    assert write is not None and read is not None
    assert write(value, b"\x00head") == b"\x00head" + expected
    assert read(b"\x00head" + expected, 5) == fastavro_value(schema, expected)


def read_as_fastavro_or_not_at_all(schema: Any, data: bytes) -> None:
    """The compiled reader answers what fastavro answers, or raises NotCompiled; never another answer."""
    read = compile_reader(schema)
    assert read is not None
    try:
        expected = fastavro_value(schema, data)
    except Exception:  # any fastavro error: the compiled code must not answer either
        with pytest.raises(NotCompiled):
            read(data)
        return
    with contextlib.suppress(NotCompiled):  # unsure: fastavro answers
        assert read(data) == expected


@pytest.mark.parametrize("topic", SHIPPED)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_damaged_bytes_are_read_as_fastavro_reads_them_or_not_at_all(topic: str, data: st.DataObject) -> None:
    """A valid value with one byte changed, or cut short: every path of the reader meets bad bytes."""
    schema = parsed(topic)
    full = fastavro_bytes(schema, data.draw(values(schema, named_of(schema))))
    at = data.draw(st.integers(0, len(full) - 1))
    if data.draw(st.booleans()):
        damaged = full[:at] + bytes([data.draw(st.integers(0, 255))]) + full[at + 1 :]
    else:
        damaged = full[:at]
    read_as_fastavro_or_not_at_all(schema, damaged)


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=200))
def test_random_bytes_are_read_as_fastavro_reads_them_or_not_at_all(data: bytes) -> None:
    read_as_fastavro_or_not_at_all(parsed("p2c.src.crm.quotedetails"), data)


EDGE_LONGS = [0, -1, 1, 63, -64, 64, -65, 8191, 8192, -8193, 2**31 - 1, -(2**31), 2**62, 2**63 - 1, -(2**63)]
EDGE_SIZES = [0, 1, 63, 64, 65, 127, 128, 8191, 8192, 100_000]


@pytest.mark.parametrize("version", EDGE_LONGS)
@pytest.mark.parametrize("size", EDGE_SIZES)
def test_varints_and_lengths_at_their_byte_boundaries(version: int, size: int) -> None:
    schema = parsed("p2c.tgt.erp.customers")
    value = sample_customer()
    value["origin"]["version"] = version
    value["record"]["OrganizationName"] = "é" * (size // 2) + "x" * (size % 2)  # two bytes a character
    value["cleared"] = ["PrimaryContactFax"] * (size % 70)
    write, read = compile_writer(schema), compile_reader(schema)
    assert write is not None and read is not None
    assert write(value) == fastavro_bytes(schema, value)
    assert read(write(value)) == fastavro_value(schema, write(value))


def sample_customer() -> dict[str, Any]:
    return {
        "op": "UPSERT",
        "record": {"dataAreaId": "usmf", "CustomerAccount": "C-1", "OrganizationName": "Contoso"},
        "origin": {"system": "crm", "entity": "accounts", "id": "a1", "version": 3, "ts_ms": 1_700_000_000_000},
        "cleared": [],
    }


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda v: v["record"].update(OrganizationName=5), "an int where a string goes"),
        (lambda v: v.update(op="MERGE"), "a symbol the enum lacks"),
        (lambda v: v["origin"].update(version=2**63), "a long out of range"),
        (lambda v: v["record"].update(CreditLimit=decimal.Decimal("1.00001")), "a decimal finer than its scale"),
        (lambda v: v["record"].pop("CustomerAccount"), "a required field missing"),
        (lambda v: v.update(cleared=("a",)), "a tuple where an array goes"),
    ],
)
def test_a_value_it_is_not_sure_of_goes_to_fastavro(change: Any, why: str) -> None:
    schema = parsed("p2c.tgt.erp.customers")
    write = compile_writer(schema)
    assert write is not None
    value = sample_customer()
    change(value)
    with pytest.raises(NotCompiled):
        write(value)


def test_a_schema_with_what_it_does_not_compile_gets_none() -> None:
    schema = fastavro.parse_schema(
        {"type": "record", "name": "R", "fields": [{"name": "f", "type": ["null", "float"], "default": None}]}
    )
    assert compile_writer(schema) is None
    assert compile_reader(schema) is None
    three = {"type": "record", "name": "S", "fields": [{"name": "u", "type": ["null", "string", "long"]}]}
    assert compile_writer(fastavro.parse_schema(three)) is None


def test_a_schema_it_fails_on_is_logged_and_left_to_fastavro(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(self: object, schema: Any) -> str:
        raise KeyError("a bug in the generator")

    monkeypatch.setattr(avro_compiled._WriterSource, "record", broken)
    with caplog.at_level("WARNING", logger="p2c.avro"):
        assert compile_writer(parsed("p2c.tgt.erp.customers")) is None
    assert "CustomerWrite not compiled" in caplog.text
    assert compile_reader("null") is None  # not a record: nothing to compile, nothing logged
    assert caplog.text.count("not compiled") == 1
