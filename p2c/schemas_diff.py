"""What changed between two Avro schemas, and whether one can read the other's data. Pure: no registry.

:func:`diff` lists the fields added, removed and changed (type, default, doc), recursing into nested records
through unions, arrays and maps. A field's path names every field and record on the way down, so the ``name``
field of the ``Account`` record inside the ``after`` field is ``after.Account.name``.

:func:`read_problems` applies Avro's schema-resolution rules: an empty list means a reader with one schema
decodes every datum written with the other (BACKWARD: the new schema reads the old data; FORWARD: the other
way round).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import fastavro
from fastavro.schema import SchemaParseException, UnknownType

Kind = Literal["added", "removed", "changed"]
_NO_DEFAULT = object()
_PROMOTIONS = {
    "int": {"long", "float", "double"},
    "long": {"float", "double"},
    "float": {"double"},
    "string": {"bytes"},
    "bytes": {"string"},
}


class InvalidSchema(ValueError):
    """The text is not JSON, or the JSON is not a valid Avro schema."""


@dataclass(frozen=True)
class Parsed:
    """An Avro schema parsed by fastavro, with its named types by full name."""

    root: Any
    named: dict[str, Any]

    def resolve(self, schema: Any) -> Any:
        """A named type's definition when ``schema`` is a reference to one, else ``schema`` itself."""
        if isinstance(schema, str) and schema in self.named:
            return self.named[schema]
        return schema


def parse(schema: str | dict[str, Any] | list[Any]) -> Parsed:
    """Parse Avro schema text or JSON; InvalidSchema says what is wrong."""
    if isinstance(schema, str):
        try:
            schema = json.loads(schema)
        except json.JSONDecodeError as exc:
            raise InvalidSchema(f"not valid JSON: {exc}") from exc
    named: dict[str, Any] = {}
    try:
        root = fastavro.parse_schema(schema, named_schemas=named)
    except (SchemaParseException, UnknownType, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise InvalidSchema(f"not a valid Avro schema: {exc}") from exc
    _require_fields(schema)
    return Parsed(root, named)


def _require_fields(schema: Any) -> None:
    """fastavro takes a record without ``fields`` for an empty one; registries reject it."""
    if isinstance(schema, list):
        for branch in schema:
            _require_fields(branch)
    elif isinstance(schema, dict):
        if schema.get("type") in ("record", "error"):
            if not isinstance(schema.get("fields"), list):
                raise InvalidSchema(f"not a valid Avro schema: record {schema.get('name')} has no fields list")
            for field in schema["fields"]:
                _require_fields(field.get("type"))
        else:
            _require_fields(schema.get("items"))
            _require_fields(schema.get("values"))


@dataclass(frozen=True)
class FieldChange:
    kind: Kind
    path: str
    detail: str


@dataclass(frozen=True)
class _Field:
    type: str
    default: Any
    doc: str | None


def _short(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def describe(schema: Any, parsed: Parsed) -> str:
    """A one-line rendering of a type: ``null | string``, ``decimal(19,4)``, ``enum Op{c,u}``, ``Account``."""
    if isinstance(schema, list):
        return " | ".join(describe(branch, parsed) for branch in schema)
    if isinstance(schema, str):
        resolved = parsed.resolve(schema)  # a named type: described as where it is defined
        return _short(schema) if resolved is schema else describe(resolved, parsed)
    kind = schema["type"]
    logical = schema.get("logicalType")
    if logical == "decimal":
        return f"decimal({schema.get('precision')},{schema.get('scale', 0)})"
    if logical:
        return str(logical)
    if kind == "enum":
        return f"enum {_short(schema['name'])}{{{','.join(schema['symbols'])}}}"
    if kind == "fixed":
        return f"fixed {_short(schema['name'])}({schema['size']})"
    if kind == "array":
        return f"array<{describe(schema['items'], parsed)}>"
    if kind == "map":
        return f"map<{describe(schema['values'], parsed)}>"
    if kind in ("record", "error"):
        return _short(schema["name"])
    return describe(kind, parsed)


def _records_in(schema: Any, parsed: Parsed) -> Iterator[dict[str, Any]]:
    """The record types a field's type holds, directly or through unions, arrays and maps."""
    schema = parsed.resolve(schema)
    if isinstance(schema, list):
        for branch in schema:
            yield from _records_in(branch, parsed)
    elif isinstance(schema, dict):
        if schema["type"] in ("record", "error"):
            yield schema
        elif schema["type"] == "array":
            yield from _records_in(schema["items"], parsed)
        elif schema["type"] == "map":
            yield from _records_in(schema["values"], parsed)


def _flatten(record: dict[str, Any], parsed: Parsed, prefix: str, seen: frozenset[str]) -> dict[str, _Field]:
    fields: dict[str, _Field] = {}
    seen = seen | {record["name"]}
    for field in record["fields"]:
        path = f"{prefix}{field['name']}"
        default = field.get("default", _NO_DEFAULT)
        fields[path] = _Field(describe(field["type"], parsed), default, field.get("doc"))
        for nested in _records_in(field["type"], parsed):
            if nested["name"] not in seen:  # a recursive type is described once
                fields |= _flatten(nested, parsed, f"{path}.{_short(nested['name'])}.", seen)
    return fields


def _show_default(value: Any) -> str:
    return "(none)" if value is _NO_DEFAULT else json.dumps(value)


def diff(old: Parsed, new: Parsed) -> list[FieldChange]:
    """Fields added, removed and changed from ``old`` to ``new``, in that order, each in schema order."""
    before = _flatten(old.root, old, "", frozenset()) if isinstance(old.root, dict) else {}
    after = _flatten(new.root, new, "", frozenset()) if isinstance(new.root, dict) else {}
    changes = [
        FieldChange("added", p, f"{f.type}, default {_show_default(f.default)}")
        for p, f in after.items()
        if p not in before
    ]
    changes += [FieldChange("removed", p, f.type) for p, f in before.items() if p not in after]
    for path, a in before.items():
        b = after.get(path)
        if b is None:
            continue
        if a.type != b.type:
            changes.append(FieldChange("changed", path, f"type: {a.type} -> {b.type}"))
        if a.default is not b.default and a.default != b.default:
            changes.append(
                FieldChange("changed", path, f"default: {_show_default(a.default)} -> {_show_default(b.default)}")
            )
        if a.doc != b.doc:
            changes.append(FieldChange("changed", path, f"doc: {a.doc!r} -> {b.doc!r}"))
    return changes


def read_problems(reader: Parsed, writer: Parsed) -> list[str]:
    """Why ``reader`` cannot decode data written with ``writer``; empty when it can."""
    return _Resolver(reader, writer).check(reader.root, writer.root, "")


class _Resolver:
    def __init__(self, reader: Parsed, writer: Parsed) -> None:
        self.reader = reader
        self.writer = writer
        self._seen: set[tuple[str, str]] = set()

    def check(self, r: Any, w: Any, path: str) -> list[str]:
        r, w = self.reader.resolve(r), self.writer.resolve(w)
        where = path or "the top level"
        if isinstance(w, list):
            return [problem for branch in w for problem in self.check(r, branch, path)]
        if isinstance(r, list):
            if any(not self.check(branch, w, path) for branch in r):
                return []
            # Say why the branch that should have matched (same kind, same name) does not.
            closest = next(
                (
                    b
                    for b in map(self.reader.resolve, r)
                    if _kind(b) == _kind(w) and (isinstance(b, str) or _same_name(b, w) or "name" not in b)
                ),
                None,
            )
            if closest is not None:
                return self.check(closest, w, path)
            return [
                f"{where}: the reader's union {describe(r, self.reader)} has no branch for the writer's "
                f"{describe(w, self.writer)}"
            ]
        r_kind, w_kind = _kind(r), _kind(w)
        if r_kind != w_kind:
            if r_kind in _PROMOTIONS.get(w_kind, set()):
                return []
            return [f"{where}: the writer's {describe(w, self.writer)} cannot be read as {describe(r, self.reader)}"]
        if r_kind in ("record", "error", "enum", "fixed") and not _same_name(r, w):
            return [f"{where}: the reader's {r_kind} {_short(r['name'])} cannot read the writer's {_short(w['name'])}"]
        if r_kind in ("record", "error"):
            return self._record(r, w, path)
        if r_kind == "enum":
            missing = [s for s in w["symbols"] if s not in r["symbols"]]
            if missing and "default" not in r:
                return [
                    f"{where}: the reader's enum {_short(r['name'])} lacks the writer's symbols "
                    f"{', '.join(missing)} and has no default"
                ]
        if r_kind == "fixed" and r["size"] != w["size"]:
            return [f"{where}: fixed size {w['size']} cannot be read as size {r['size']}"]
        if r_kind == "array":
            return self.check(r["items"], w["items"], path)
        if r_kind == "map":
            return self.check(r["values"], w["values"], path)
        return []

    def _record(self, r: dict[str, Any], w: dict[str, Any], path: str) -> list[str]:
        key = (r["name"], w["name"])
        if key in self._seen:  # a recursive type, already being checked further up
            return []
        self._seen.add(key)
        try:
            return self._fields(r, w, path)
        finally:
            self._seen.discard(key)

    def _fields(self, r: dict[str, Any], w: dict[str, Any], path: str) -> list[str]:
        prefix = f"{path}.{_short(r['name'])}." if path else ""
        writer_fields = {f["name"]: f for f in w["fields"]}
        problems = []
        for field in r["fields"]:
            names = [field["name"], *field.get("aliases", [])]
            match = next((writer_fields[n] for n in names if n in writer_fields), None)
            if match is not None:
                problems += self.check(field["type"], match["type"], prefix + field["name"])
            elif "default" not in field:
                problems.append(
                    f"{prefix}{field['name']}: the reader's field has no default and the writer's data does not have it"
                )
        return problems


def _kind(schema: Any) -> str:
    return schema if isinstance(schema, str) else str(schema["type"])


def _same_name(r: dict[str, Any], w: dict[str, Any]) -> bool:
    aliases = {_short(a) for a in r.get("aliases", [])}
    return _short(r["name"]) == _short(w["name"]) or _short(w["name"]) in aliases
