"""Writes read from a target topic: ``{op UPSERT|DELETE, record, origin{system, entity, id, version, ts_ms}}``.

A write may also name the fields it clears (``cleared``): a record field that is None is otherwise left
out of a PATCH, so that fields p2c does not own keep their values in the target.

Shared by every sink: parse the envelope, keep the newest write per key (origin.version, then offset). The
flow a write belongs to follows from its target topic and origin entity (``p2c.flows.flow_of``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from p2c import flows
from p2c.connectors.base.sink import SinkRecord
from p2c.errors import RecordError

Key = tuple[str, ...]
T = TypeVar("T")


def targets_named(catalog: Mapping[str, T], names: Sequence[str], system: str) -> list[T]:
    """The declared targets of a sink by name; none named: every target the flows write into ``system``.
    KeyError names the unknown ones and the known."""
    names = list(names) or list(flows.targets_of(system))
    unknown = [n for n in names if n not in catalog]
    if unknown:
        raise KeyError(f"unknown {system.upper()} targets {unknown}; known: {', '.join(catalog)}")
    return [catalog[n] for n in names]


@dataclass(frozen=True)
class EnumLiteral:
    """A FinOps enum value in a URL or a filter: ``Microsoft.Dynamics.DataEntities.NoYes'Yes'``."""

    enum: str
    member: str


def odata_literal(value: Any) -> str:
    """A value as an OData URL/filter literal (strings quoted, quotes doubled, enums qualified)."""
    if isinstance(value, EnumLiteral):
        return f"{value.enum}'{value.member}'"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def normalize(key: Key) -> Key:
    """Dataverse and FinOps compare keys case-insensitively."""
    return tuple(k.lower() for k in key)


@dataclass
class Write:
    record: SinkRecord
    key: Key
    fields: dict[str, Any]
    delete: bool
    version: int
    #: the fields this write clears (a sink sends them as cleared, not left out)
    cleared: tuple[str, ...] = ()


def envelope(record: SinkRecord, what: str) -> tuple[dict[str, Any], int, bool]:
    """(record fields, origin version, is a delete) of one write; RecordError when it is not a write."""
    value = record.value
    try:
        fields = dict(value["record"])
        version = int(value["origin"]["version"])
        op = str(value["op"])
    except (KeyError, TypeError, ValueError) as exc:
        raise RecordError(f"not a write for {what}: {exc}", record_key=record.key) from exc
    return fields, version, op == "DELETE"


def cleared(record: SinkRecord) -> tuple[str, ...]:
    """The fields a write clears (``cleared``: mapped fields the source emptied). Absent in older writes."""
    value = record.value.get("cleared") if isinstance(record.value, dict) else None
    return tuple(str(f) for f in value or ())


def origin_entity(record: SinkRecord) -> str | None:
    origin = record.value.get("origin") if isinstance(record.value, dict) else None
    return str(origin.get("entity")) if isinstance(origin, dict) else None


def dedupe(writes: Sequence[Write]) -> tuple[list[Write], list[Write]]:
    """The newest write per key (origin.version, then offset), in first-seen order, and the superseded ones."""
    newest: dict[Key, Write] = {}
    superseded: list[Write] = []
    for w in writes:
        k = normalize(w.key)
        cur = newest.get(k)
        if cur is None or (w.version, w.record.offset) >= (cur.version, cur.record.offset):
            if cur is not None:
                superseded.append(cur)
            newest[k] = w
        else:
            superseded.append(w)
    return list(newest.values()), superseded


def or_filters(clauses: Sequence[str], max_chars: int = 3000) -> list[str]:
    """``(a) or (b) or ...`` filters of at most ``max_chars`` each (URLs stay short)."""
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for clause in clauses:
        c = f"({clause})"
        if current and size + len(c) + 4 > max_chars:
            chunks.append(" or ".join(current))
            current, size = [], 0
        current.append(c)
        size += len(c) + 4
    if current:
        chunks.append(" or ".join(current))
    return chunks
