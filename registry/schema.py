"""Parsing, validating and normalising the schemas clients register.

Only Avro is supported (JSON Schema and Protobuf registrations are refused with 42201, saying so). A
schema's identity is its *normalised text*: the schema JSON, compact, with primitive types in their short
form (``{"type": "string"}`` is ``"string"``). Docs, defaults, aliases and logical types are kept, because
they change how data is read; two registrations with the same normalised text (and the same references)
are the same schema and share one global id.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import fastavro
from fastavro.schema import SchemaParseException, UnknownType

from p2c.registry.errors import ErrorCode, RegistryError

AVRO = "AVRO"
SCHEMA_TYPES = ("AVRO",)
PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
_NAMED = frozenset({"record", "error", "enum", "fixed"})


@dataclass(frozen=True)
class ParsedSchema:
    """A valid schema: its normalised ``text`` (its identity), the fastavro-parsed form and every named type
    it can see (its own and those of its references), by full name."""

    text: str
    parsed: Any
    named: dict[str, Any] = field(compare=False)
    schema_type: str = AVRO
    references: tuple[tuple[str, str, int], ...] = ()

    @property
    def references_json(self) -> list[dict[str, Any]]:
        return [{"name": n, "subject": s, "version": v} for n, s, v in self.references]


def invalid(message: str) -> RegistryError:
    return RegistryError(ErrorCode.INVALID_SCHEMA, message)


def check_schema_type(schema_type: object) -> str:
    """The schema type of a request, or 42201 saying what this registry supports."""
    if schema_type is None:
        return AVRO
    if not isinstance(schema_type, str):
        raise invalid(f"Invalid schemaType {schema_type!r}: expected a string")
    if schema_type.upper() != AVRO:
        raise invalid(f"Schema type {schema_type} is not supported by this registry: only AVRO schemas are")
    return AVRO


def normalise(node: Any) -> Any:
    """The schema JSON with primitive types in their short form, and structural checks fastavro skips."""
    if isinstance(node, list):
        branches = [normalise(b) for b in node]
        seen: set[str] = set()
        for b in branches:
            if isinstance(b, list):
                raise invalid("Invalid schema: a union may not immediately contain another union")
            kind = b if isinstance(b, str) else b.get("type") if isinstance(b, dict) else None
            if isinstance(kind, str) and kind not in _NAMED:
                if kind in seen:
                    raise invalid(f"Invalid schema: duplicate {kind} in union")
                seen.add(kind)
        return branches
    if not isinstance(node, dict):
        return node
    kind = node.get("type")
    if isinstance(kind, str) and kind in PRIMITIVES and set(node) == {"type"}:
        return kind
    if kind in ("record", "error") and not isinstance(node.get("fields"), list):
        raise invalid(f"Invalid schema: record {node.get('name')!r} has no fields list")
    if kind == "fixed" and not isinstance(node.get("size"), int):
        raise invalid(f"Invalid schema: fixed {node.get('name')!r} has no integer size")
    if kind == "enum" and not isinstance(node.get("symbols"), list):
        raise invalid(f"Invalid schema: enum {node.get('name')!r} has no symbols list")
    if kind == "array" and "items" not in node:
        raise invalid("Invalid schema: array has no items")
    if kind == "map" and "values" not in node:
        raise invalid("Invalid schema: map has no values")
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "fields" and isinstance(value, list):
            out[key] = [_field(f) for f in value]
        elif key in ("type", "items", "values"):
            out[key] = normalise(value)
        else:
            out[key] = value
    return out


def _field(node: Any) -> Any:
    if not isinstance(node, dict) or "name" not in node or "type" not in node:
        raise invalid(f"Invalid schema: field {node!r} needs a name and a type")
    return {k: normalise(v) if k == "type" else v for k, v in node.items()}


def parse(
    schema_str: object,
    schema_type: object = None,
    references: Sequence[tuple[str, str, int]] = (),
    dependencies: Sequence[str] = (),
) -> ParsedSchema:
    """Parse and validate ``schema_str``. ``dependencies`` are the texts of the referenced schemas (and of
    theirs), deepest first, so that the names they define resolve. Raises 42201 saying what is wrong."""
    kind = check_schema_type(schema_type)
    if not isinstance(schema_str, str) or not schema_str.strip():
        raise invalid("Invalid schema: the 'schema' field must be a non-empty string")
    try:
        doc = json.loads(schema_str)
    except ValueError as exc:
        raise invalid(f"Invalid schema: not valid JSON: {exc}") from exc
    doc = normalise(doc)
    named: dict[str, Any] = {}
    try:
        for dep in dependencies:
            fastavro.parse_schema(normalise(json.loads(dep)), named_schemas=named, _write_hint=False)
        parsed = fastavro.parse_schema(doc, named_schemas=named, _write_hint=False)
    except UnknownType as exc:
        raise invalid(f"Invalid schema: unknown type {exc.name!r}") from exc
    except KeyError as exc:
        raise invalid(f"Invalid schema: missing attribute {exc}") from exc
    except (SchemaParseException, ValueError, TypeError, AttributeError) as exc:
        raise invalid(f"Invalid schema: {exc}") from exc
    text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
    return ParsedSchema(text, parsed, named, kind, tuple(references))
