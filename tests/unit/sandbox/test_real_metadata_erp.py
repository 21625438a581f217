"""The ERP sandbox and everything p2c sends to or reads from FinOps, checked against the real metadata.

``finops.json`` was captured from a real Finance and Operations environment (see its ``_meta``). Every entity
set, key and property the ERP sandbox serves, and every property p2c selects, filters on, orders by or
writes (templates, sink targets, the Avro contracts of the ERP's topics, the source), must exist there with
the same type. There is no exception list.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import resources
from typing import Any

import pytest

from p2c import schemas
from p2c.connectors.finops.catalog import TARGETS
from p2c.connectors.finops.quotations import LINE_KEY, QuotationTarget
from p2c.connectors.finops.source import STREAMS
from p2c.connectors.finops.targets import ContactPersonTarget
from p2c.sandbox.erp import entities as E
from p2c.streams import loader

REAL: dict[str, Any] = json.loads(resources.files("p2c.sandbox").joinpath("data", "finops.json").read_text())
ENUM_PREFIX = "Microsoft.Dynamics.DataEntities."

#: Avro type of a record field -> the Edm types FinOps may declare for it
AVRO_TO_EDM = {
    "string": ("Edm.String", "enum"),
    "int": ("Edm.Int32",),
    "long": ("Edm.Int64",),
    "boolean": ("Edm.Boolean",),
    "decimal": ("Edm.Decimal",),
    "date": ("Edm.DateTimeOffset",),
    "timestamp-millis": ("Edm.DateTimeOffset",),
}
ERP_TEMPLATES = ("accounts", "contacts-customers", "contacts-contactpersons", "quotes-header", "quotes-lines")


def real_property(entity_set: str, name: str) -> dict[str, Any]:
    assert entity_set in REAL, f"{entity_set} is not a FinOps entity set"
    props = REAL[entity_set]["properties"]
    assert name in props, f"{entity_set} has no property {name!r}"
    prop: dict[str, Any] = props[name]
    return prop


def enum_members(entity_set: str, name: str) -> set[str] | None:
    type_name = real_property(entity_set, name)["type"]
    if not type_name.startswith(ENUM_PREFIX):
        return None
    return set(REAL[entity_set]["enums"][type_name.removeprefix(ENUM_PREFIX)])


# ---- the sandbox serves the real metadata, all of it and nothing else ------------------------------------


@pytest.mark.parametrize("entity", E.ALL, ids=lambda e: e.name)
def test_the_sandbox_serves_the_real_entity_set(entity: Any) -> None:
    real = REAL[entity.name]
    assert list(entity.key) == real["keys"]
    assert {f.name for f in entity.fields} == set(real["properties"])
    for f in entity.fields:
        prop = real["properties"][f.name]
        assert f.edm_type == prop["type"], f.name
        assert f.nullable == prop["nullable"], f.name
        if f.enum:
            assert dict(f.members) == real["enums"][f.enum.removeprefix(ENUM_PREFIX)], f.name


def test_the_sandbox_serves_exactly_the_entity_sets_shipped_from_the_real_metadata() -> None:
    assert {e.name for e in E.ALL} == set(REAL) - {"_meta"}
    # sets the real service lacks (the captured metadata lists them as absent)
    assert not {e.name for e in E.ALL} & {"CDSContactsV2", "Languages", "EcoResReleasedProductV2", "DataEvents"}


# ---- what p2c writes -------------------------------------------------------------------------------------


def avro_fields(node: Any) -> Iterator[tuple[str, str]]:
    """(name, avro type) of a record's fields; logical types by their logical name."""
    for f in node["fields"]:
        t = f["type"]
        t = next(x for x in t if x != "null") if isinstance(t, list) else t
        yield f["name"], (t.get("logicalType") or t["type"]) if isinstance(t, dict) else t


def target_records() -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(topic, entity set, Avro record of what the sink writes there) for every ERP target."""
    for target in TARGETS.values():
        record = schemas.load(target.topic)["fields"][1]["type"]
        if isinstance(target, QuotationTarget):
            yield target.topic, target.entity_set, record["fields"][0]["type"]
            yield target.topic, target.lines_entity_set, record["fields"][1]["type"]["items"]
        else:
            yield target.topic, target.entity_set, record


@pytest.mark.parametrize(("topic", "entity_set", "record"), list(target_records()), ids=lambda x: str(x)[:40])
def test_every_field_a_sink_writes_is_real_with_its_type(topic: str, entity_set: str, record: Any) -> None:
    for name, avro in avro_fields(record):
        prop = real_property(entity_set, name)
        kind = "enum" if prop["type"].startswith(ENUM_PREFIX) else prop["type"]
        assert kind in AVRO_TO_EDM[avro], f"{topic}: {entity_set}.{name} is {prop['type']}, the contract {avro}"


@pytest.mark.parametrize("flow", ERP_TEMPLATES)
def test_every_field_a_template_writes_is_real_and_every_enum_value_a_member(flow: str) -> None:
    template = loader.load(flow)
    target = next(t for t in TARGETS.values() if t.topic == template.target_topic)
    entity_set = (
        target.lines_entity_set if isinstance(target, QuotationTarget) and "lines" in flow else target.entity_set
    )
    for spec in template.fields:
        members = enum_members(entity_set, spec.target)
        if members is None:
            continue
        values = [spec.const, spec.default, *(spec.value_map.entries.values() if spec.value_map else [])]
        for value in values:
            assert value is None or value in members, f"{flow}: {spec.target} = {value!r}, not a member of {members}"
    for name, value in template.on_delete.items():
        members = enum_members(entity_set, name)
        assert members is None or value in members


def test_what_the_sinks_filter_select_and_address_is_real() -> None:
    for target in TARGETS.values():
        for name in target.located_fields:
            real_property(target.entity_set, name)
        for ref in target.references:
            real_property(ref.entity_set, ref.key_field)
            real_property(ref.entity_set, "dataAreaId")
        for name, value in (target.delete_patch or {}).items():
            members = enum_members(target.entity_set, name)
            assert members is None or value in members
        if isinstance(target, QuotationTarget):
            for name in LINE_KEY:
                real_property(target.lines_entity_set, name)
            for ref in target.line_references:
                real_property(ref.entity_set, ref.key_field)
        if isinstance(target, ContactPersonTarget):
            assert list(target.entity_key) == REAL[target.entity_set]["keys"]


def test_what_the_source_selects_and_joins_is_real() -> None:
    for stream in STREAMS.values():
        for name in [*stream.selected, *stream.key_fields, "ItemNumber"]:
            real_property(stream.entity_set, name)
        for name in ("dataAreaId", "ItemNumber", stream.stopped_field):
            real_property(stream.stopped_set, name)
        for name in ("dataAreaId", "ItemNumber", *stream.date_fields):
            assert real_property(stream.dates_set, name)
        for name in stream.date_fields:
            assert real_property(stream.dates_set, name)["type"] == "Edm.DateTimeOffset"
        derived = set(stream.converter.field_names) - set(stream.selected)
        assert derived == {stream.stopped_field, *stream.date_fields, "Sellable"}
