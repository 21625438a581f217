"""What a template may name: the fields of a change event's row and of a target write's record.

Read from the Avro contracts in ``schemas/``: a change topic's row is the record type of its ``after`` field
(Debezium envelope), a target topic's record is the type of its ``record`` field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from p2c import schemas
from p2c.errors import ConfigurationError

_PRIMITIVE_OF_LOGICAL = {"decimal": "decimal", "uuid": "string"}


@dataclass(frozen=True)
class AvroField:
    name: str
    kind: str  # string, int, long, boolean, double, float, decimal, timestamp-millis, ...
    nullable: bool
    has_default: bool


def _kind(avro_type: Any) -> str:
    if isinstance(avro_type, dict):
        logical = avro_type.get("logicalType")
        if logical:
            return _PRIMITIVE_OF_LOGICAL.get(str(logical), str(logical))
        return str(avro_type.get("type"))
    return str(avro_type)


def _field(spec: dict[str, Any]) -> AvroField:
    avro_type = spec["type"]
    nullable = False
    if isinstance(avro_type, list):
        branches = [t for t in avro_type if t != "null"]
        nullable = len(branches) < len(avro_type)
        avro_type = branches[0] if len(branches) == 1 else "union"
    return AvroField(spec["name"], _kind(avro_type), nullable, "default" in spec)


def _named_records(node: Any, found: dict[str, dict[str, Any]]) -> None:
    """Collect every named record type in a schema by its short and full name."""
    if isinstance(node, list):
        for item in node:
            _named_records(item, found)
    elif isinstance(node, dict):
        if node.get("type") == "record" and "name" in node:
            found[node["name"]] = node
            if "namespace" in node:
                found[f"{node['namespace']}.{node['name']}"] = node
        for value in node.values():
            if isinstance(value, dict | list):
                _named_records(value, found)


def _record_of(avro_type: Any, named: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The record type inside ``avro_type``: itself, a union branch, an array's items, or a named reference."""
    if isinstance(avro_type, list):
        for branch in avro_type:
            if (found := _record_of(branch, named)) is not None:
                return found
        return None
    if isinstance(avro_type, str):
        return named.get(avro_type)
    if isinstance(avro_type, dict):
        if avro_type.get("type") == "record":
            return avro_type
        if avro_type.get("type") == "array":
            return _record_of(avro_type.get("items"), named)
    return None


def record_fields(topic: str, envelope_field: str, path: tuple[str, ...] = ()) -> dict[str, AvroField]:
    """The fields of the record type held by ``envelope_field`` of ``topic``'s value schema; ``path`` names
    a record field inside it, then one inside that, ... (arrays stand for their items): the quotation's
    ``("header",)`` or ``("lines",)``."""
    try:
        schema = schemas.load(topic)
    except KeyError as exc:
        raise ConfigurationError(str(exc)) from exc
    named: dict[str, dict[str, Any]] = {}
    _named_records(schema, named)
    for spec in schema.get("fields", []):
        if spec["name"] != envelope_field:
            continue
        record = _record_of(spec["type"], named)
        for name in path:
            inner = next((f for f in (record or {}).get("fields", []) if f["name"] == name), None)
            record = None if inner is None else _record_of(inner["type"], named)
        if record is not None:
            return {f["name"]: _field(f) for f in record["fields"]}
    raise ConfigurationError(f"the schema of {topic} has no record field {'.'.join((envelope_field, *path))!r}")


def source_fields(topic: str) -> dict[str, AvroField]:
    """The row fields of a change topic (``after``)."""
    return record_fields(topic, "after")


def target_fields(topic: str, path: tuple[str, ...] = ()) -> dict[str, AvroField]:
    """The record fields of a target topic (``record``), or of a record inside it (``path``)."""
    return record_fields(topic, "record", path)


def accepts(target_kind: str, source_kind: str) -> bool:
    """Whether a value of ``source_kind`` may be written to a field of ``target_kind``."""
    widening = {("long", "int"), ("double", "float"), ("double", "int"), ("double", "long")}
    return target_kind == source_kind or (target_kind, source_kind) in widening


def kind_of_value(value: Any) -> str:
    """The Avro kind of a literal from a TOML file (const, default, value-map entry)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "long" if abs(value) >= 2**31 else "int"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    return type(value).__name__
