"""Templates: a flow's mapping as data, and the one pure function that applies it.

A template is loaded from ``streams/templates/<flow>.toml`` (see :mod:`streams.loader` for the file format)
into the frozen dataclasses below. :func:`apply` turns one source row (a dict, as the Avro deserializer
returns it) into one target record (a dict the target's Avro serializer accepts). It does no I/O and knows
nothing about Kafka, so it is tested on plain dicts.

How one target field gets its value, in this order::

    const                       the value, whatever the row says
    from = "<source field>"     the row's value, then each transform in ``transforms``, then
                                ``value_map`` (unknown value -> RecordError naming the key and the field)
    default                     used when the result so far is blank (None, or a string of whitespace)
    required                    still blank -> RecordError naming the key and the (source) field

Transforms are a small closed set, applied to strings only: ``trim``, ``upper``, ``lower``, ``truncate:N``
(a truncation that cuts text logs a WARNING naming the record and the field). A string holding a control
character (C0 but tab, CR, LF; DEL) is a RecordError naming the field.
Value-map lookups compare text without case and surrounding whitespace ("usa", " USA " and "USA" are one
key; the option-set value 1 matches the TOML key "1").
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from p2c.errors import ConfigurationError, RecordError

Row = Mapping[str, Any]

log = logging.getLogger("p2c.streams.template")


def _truncate(arg: str) -> Callable[[str], str]:
    try:
        n = int(arg)
    except ValueError:
        n = -1
    if n < 1:
        raise ConfigurationError(f"transform truncate:{arg}: the length must be a positive integer")
    return lambda s: s[:n]


_SIMPLE: dict[str, Callable[[str], str]] = {"trim": str.strip, "upper": str.upper, "lower": str.lower}
_WITH_ARG: dict[str, Callable[[str], Callable[[str], str]]] = {"truncate": _truncate}
TRANSFORMS = (*_SIMPLE, *(f"{name}:N" for name in _WITH_ARG))


@dataclass(frozen=True)
class Transform:
    """One named string transform, e.g. ``trim`` or ``truncate:60``."""

    spec: str
    fn: Callable[[str], str] = field(compare=False, repr=False)

    @classmethod
    def parse(cls, spec: str) -> Transform:
        name, _, arg = spec.partition(":")
        if name in _SIMPLE and not arg:
            return cls(spec, _SIMPLE[name])
        if name in _WITH_ARG and arg:
            return cls(spec, _WITH_ARG[name](arg))
        raise ConfigurationError(f"unknown transform {spec!r}; known: {', '.join(TRANSFORMS)}")


def map_key(value: Any) -> str:
    """The lookup key of a value in a value map: its text, without case and surrounding space.

    TOML keys are always strings, so an option-set value 1 and a boolean true are looked up as "1" and
    "true": ``value_map = { 1 = "Male", 2 = "Female" }`` maps Dataverse's integer gendercode.
    """
    return " ".join(str(value).split()).casefold()


@dataclass(frozen=True)
class ValueMap:
    """A translation table, inline in a template or shared (``templates/maps/<name>.toml``)."""

    name: str
    entries: Mapping[str, Any]

    @classmethod
    def build(cls, name: str, entries: Mapping[Any, Any]) -> ValueMap:
        return cls(name, {map_key(k): v for k, v in entries.items()})

    def lookup(self, value: Any) -> Any:
        """The translation of ``value``; KeyError when the map has none."""
        return self.entries[map_key(value)]


@dataclass(frozen=True)
class FieldSpec:
    """How one target field is filled."""

    target: str
    source: str | None = None
    const: Any = None
    default: Any = None
    value_map: ValueMap | None = None
    transforms: tuple[Transform, ...] = ()
    required: bool = False


@dataclass(frozen=True)
class Template:
    """A flow's mapping from one source entity to one target entity."""

    flow: str
    source_topic: str
    target_topic: str
    source_key: str  # the source row's key field: names the record in errors, keys tables
    key: tuple[str, ...]  # target fields that make up the target record's key
    fields: tuple[FieldSpec, ...]
    on_delete: Mapping[str, Any] = field(default_factory=dict)  # fields set on a DELETE write
    origin: Mapping[str, str] = field(default_factory=dict)  # system, entity of the source
    when: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)  # routing: field -> accepted values

    def field_spec(self, target: str) -> FieldSpec:
        for spec in self.fields:
            if spec.target == target:
                return spec
        raise KeyError(target)


def blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


#: C0 control characters and DEL, but tab, line feed and carriage return: no business text holds them, and
#: the ERP's exports (XML, DMF) refuse them, so a value carrying one is refused naming the field
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _transformed(spec: FieldSpec, value: str, record_key: str | None) -> str:
    """``value`` through the spec's transforms; a ``truncate`` that cuts text is logged (never silent)."""
    if bad := _CONTROL.search(value):
        raise RecordError(
            f"holds the control character U+{ord(bad.group()):04X} at position {bad.start()} (for {spec.target}): "
            "remove it in the source",
            record_key=record_key,
            field=spec.source,
        )
    for transform in spec.transforms:
        before = len(value)
        value = transform.fn(value)
        if transform.spec.startswith("truncate") and len(value) < before:
            log.warning(
                "record %s: %s truncated from %d to %d characters for %s (%s in the template)",
                record_key,
                spec.source,
                before,
                len(value),
                spec.target,
                transform.spec,
            )
    return value


def _value(spec: FieldSpec, row: Row, record_key: str | None) -> Any:
    if spec.const is not None:
        return spec.const
    value = row.get(spec.source) if spec.source else None
    if not blank(value):
        if isinstance(value, str):
            value = _transformed(spec, value, record_key)
        if spec.value_map is not None and not blank(value):
            try:
                value = spec.value_map.lookup(value)
            except KeyError:
                raise RecordError(
                    f"value {value!r} is not in value map {spec.value_map.name!r} (for {spec.target})",
                    record_key=record_key,
                    field=spec.source,
                ) from None
    if blank(value):
        value = spec.default
    if spec.required and blank(value):
        raise RecordError(
            f"is required (for {spec.target}) and is blank",
            record_key=record_key,
            field=spec.source or spec.target,
        )
    return value


def apply(template: Template, row: Row) -> dict[str, Any]:
    """Map one source row to one target record. Raises RecordError naming the record key and the field."""
    raw_key = row.get(template.source_key)
    record_key = None if raw_key is None else str(raw_key)
    return {spec.target: _value(spec, row, record_key) for spec in template.fields}


def cleared(template: Template, record: Row) -> list[str]:
    """The target fields ``record`` clears: copied from a source field that is blank, with no default.

    The sink sends these as cleared rather than leaving them out (a field p2c does not map is never named). A
    value-mapped field (an enum or a code) is not named: its empty value is not a member the target accepts.
    """
    return [
        spec.target
        for spec in template.fields
        if spec.source and spec.const is None and spec.value_map is None and record.get(spec.target) is None
    ]


def upsert(template: Template, record: dict[str, Any], origin: dict[str, Any]) -> dict[str, Any]:
    """The value of an UPSERT of ``record``: the write envelope, naming the fields it clears."""
    return {"op": "UPSERT", "record": record, "origin": origin, "cleared": cleared(template, record)}


def matches(template: Template, row: Row) -> bool:
    """Whether ``row`` is routed to this template: each ``when`` field holds one of its accepted values."""
    return all(row.get(name) in accepted for name, accepted in template.when.items())


def target_key(template: Template, record: Row) -> str:
    """The target record's key: its key fields joined by ``|``, e.g. ``usmf|ACC-01000-BVRCPS``."""
    return "|".join(str(record[name]) for name in template.key)
