"""Turn JSON rows from an OData API into the Python values an Avro record schema wants.

Driven by the schema alone: Decimal (quantized to the schema's scale) for decimals, ``date`` for dates,
aware UTC ``datetime`` for ``timestamp-millis``, int/bool/str for the rest. A value that does not convert
raises RecordError naming the field, so the row is dead-lettered rather than dropped or mangled.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from p2c import schemas
from p2c.errors import RecordError

Converter = Callable[[Any], Any]


def parse_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        dt = value
    else:
        text = str(value).strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        dt = datetime.fromisoformat(text)
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def to_millis(value: Any) -> int:
    return int(parse_datetime(value).timestamp() * 1000)


def _date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return (
        datetime.fromisoformat(str(value).strip().replace("Z", "+00:00")).date()
        if "T" in str(value)
        else date.fromisoformat(str(value).strip())
    )


def _decimal(scale: int, precision: int) -> Converter:
    quantum = Decimal(1).scaleb(-scale)

    def convert(value: Any) -> Decimal:
        if isinstance(value, bool):
            raise ValueError("a boolean is not a number")
        d = Decimal(str(value)).quantize(quantum)
        if len(d.as_tuple().digits) > precision:
            raise ValueError(f"{value} has more than {precision} digits")
        return d

    return convert


def _int(value: Any) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(f"{value!r} is not an integer")
    return int(value)


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no"):
        return value.lower() in ("true", "yes")
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise ValueError(f"{value!r} is not a boolean")


def _float(value: Any) -> float:
    return float(value)


def _str(value: Any) -> str:
    """Text as the service sent it; a number or a boolean where text is due means the column is not what the
    contract says (a customised tenant, a proxy): refused, not turned into text that looks right."""
    if isinstance(value, dict | list):
        raise ValueError("not a scalar")
    if isinstance(value, bool | int | float):
        raise ValueError(f"a {type(value).__name__} where text is due")
    return str(value)


def converter_for(avro_type: Any) -> tuple[Converter, bool]:
    """(converter, nullable) for one field type."""
    nullable = False
    if isinstance(avro_type, list):
        nullable = "null" in avro_type
        branches = [t for t in avro_type if t != "null"]
        avro_type = branches[0] if len(branches) == 1 else "string"
    if isinstance(avro_type, dict):
        logical = avro_type.get("logicalType")
        base = avro_type.get("type")
        if logical == "decimal":
            return _decimal(int(avro_type.get("scale", 0)), int(avro_type.get("precision", 38))), nullable
        if logical == "date":
            return _date, nullable
        if logical in ("timestamp-millis", "timestamp-micros"):
            return parse_datetime, nullable
        avro_type = base
    simple: dict[str, Converter] = {
        "string": _str,
        "int": _int,
        "long": _int,
        "boolean": _bool,
        "double": _float,
        "float": _float,
    }
    return simple.get(str(avro_type), _str), nullable


@dataclass(frozen=True)
class RowConverter:
    """Converts rows to one Avro record schema's fields (missing fields become None when nullable)."""

    name: str
    fields: tuple[tuple[str, Converter, bool], ...]

    @classmethod
    def for_record(cls, record_schema: dict[str, Any]) -> RowConverter:
        return cls(
            record_schema["name"],
            tuple((f["name"], *converter_for(f["type"])) for f in record_schema["fields"]),
        )

    @property
    def field_names(self) -> list[str]:
        return [name for name, _, _ in self.fields]

    def convert(self, row: dict[str, Any], key: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, convert, nullable in self.fields:
            value = row.get(name)
            if value is None:
                if not nullable:
                    raise RecordError(f"{self.name}.{name} is required but missing", record_key=key, field=name)
                out[name] = None
                continue
            try:
                out[name] = convert(value)
            except (ValueError, TypeError, ArithmeticError, InvalidOperation) as exc:
                raise RecordError(
                    f"{value!r} does not convert to {self.name}.{name}: {exc}", record_key=key, field=name
                ) from exc
        return out


def _named_records(node: Any, out: dict[str, dict[str, Any]]) -> None:
    if isinstance(node, list):
        for item in node:
            _named_records(item, out)
    elif isinstance(node, dict):
        if node.get("type") == "record":
            out.setdefault(node["name"], node)
            out.setdefault(f"{node.get('namespace', '')}.{node['name']}", node)
            for f in node.get("fields", []):
                _named_records(f["type"], out)
        elif "items" in node:
            _named_records(node["items"], out)


def record_schema(topic: str, field: str) -> dict[str, Any]:
    """The record schema inside ``field`` (``after``, ``record``) of ``topic``'s value schema."""
    schema = schemas.load(topic)
    named: dict[str, dict[str, Any]] = {}
    _named_records(schema, named)
    for f in schema["fields"]:
        if f["name"] == field:
            for t in f["type"] if isinstance(f["type"], list) else [f["type"]]:
                if isinstance(t, dict) and t.get("type") == "record":
                    return t
                if isinstance(t, str) and t in named:
                    return named[t]
    raise KeyError(f"{topic} has no record field {field!r}")
