"""What counts as a difference between a record a flow would write and the row a target has. Pure.

Values are compared as the sink sends them (``connectors.finops.targets.to_json``: decimals as numbers, a date as
midnight UTC) against what the target's API answers:

* numbers compare by value (``12.5`` and ``12.50``; ``1`` and ``1.0``);
* date-times compare as instants, and a date-only value as its day (FinOps has no ``Edm.Date``);
* everything else compares exactly (strings keep their case: the target stores what p2c sent).

A field the record leaves blank (``None``) is not compared: the sinks leave blank fields out of their writes
and the target keeps its own value or default there (FinOps fills enums and strings it was not sent).

Which target rows a flow answers for, to name the *extra* ones: those that carry every constant the flow's
template writes (``IsExternallyMaintained = Yes``, ``PartyType = Organization``) and are not in the state a delete
leaves (a customer on hold ``All``, a retired product): :func:`owned` and :func:`retired`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from p2c.connectors.finops.targets import to_json

MISSING = "missing"  # the flow would write it; the target has no such row
EXTRA = "extra"  # the target has a row the flow owns; the flow would write none (and it is not deleted)
DIFFERS = "differs"  # both have it; fields differ
DUPLICATE = "duplicate"  # the target has several rows for one key of the flow's
KINDS = (MISSING, EXTRA, DIFFERS, DUPLICATE)


@dataclass(frozen=True)
class FieldDifference:
    field: str
    expected: Any
    actual: Any

    def as_json(self) -> dict[str, Any]:
        return {"field": self.field, "expected": plain(self.expected), "actual": plain(self.actual)}


@dataclass(frozen=True)
class Difference:
    """One difference of one flow in one target, named by the target key (and the source row, when known)."""

    flow: str
    target: str  # the target's entity set: CustomersV3, CDSSalesQuotationLines, products
    key: str  # the target key, fields joined by "|": usmf|ACC-01000
    kind: str
    source_id: str | None = None
    fields: tuple[FieldDifference, ...] = field(default=())

    def as_json(self) -> dict[str, Any]:
        return {
            "flow": self.flow,
            "target": self.target,
            "key": self.key,
            "kind": self.kind,
            "source_id": self.source_id,
            "fields": [f.as_json() for f in self.fields],
        }

    def line(self) -> str:
        """One line for a person: ``accounts  CustomersV3 usmf|ACC-1  differs  PrimaryContactPhone: ...``."""
        what = "; ".join(f"{f.field}: expected {f.expected!r}, found {f.actual!r}" for f in self.fields)
        source = f" (source {self.source_id})" if self.source_id else ""
        return f"{self.flow:<9} {self.target} {self.key}  {self.kind}{source}{'  ' + what if what else ''}"


def plain(value: Any) -> Any:
    """A value as JSON can carry it, as the sink would send it."""
    value = to_json(value)
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        return float(value)
    return None


def _moment(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str) and len(value) >= 10 and value[4:5] == "-" and value[7:8] == "-":
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def same(expected: Any, actual: Any) -> bool:
    """Whether the target's ``actual`` value is what the flow's ``expected`` value writes."""
    expected = to_json(expected)
    a, b = _number(expected), _number(actual)
    if a is not None and b is not None:
        return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))
    if isinstance(expected, str) and isinstance(actual, str) and expected != actual:
        x, y = _moment(expected), _moment(actual)
        return x is not None and y is not None and x == y
    return bool(expected == actual) and isinstance(expected, bool) == isinstance(actual, bool)


def field_differences(
    expected: Mapping[str, Any], actual: Mapping[str, Any], *, skip: Iterable[str] = ()
) -> tuple[FieldDifference, ...]:
    """The fields ``expected`` writes whose value the target row does not have (blank expectations and
    ``skip``, the key fields, left out)."""
    skipped = set(skip)
    return tuple(
        FieldDifference(name, value, actual.get(name))
        for name, value in expected.items()
        if value is not None and name not in skipped and not same(value, actual.get(name))
    )


def owned(row: Mapping[str, Any], constants: Mapping[str, Any]) -> bool:
    """A target row carries every constant the flow writes: it is one of the flow's rows."""
    return all(same(value, row.get(name)) for name, value in constants.items())


def retired(row: Mapping[str, Any], delete_state: Mapping[str, Any]) -> bool:
    """A target row is in the state the flow's delete leaves (on hold, retired); False when deletes remove rows."""
    return bool(delete_state) and all(same(value, row.get(name)) for name, value in delete_state.items())


def join_key(values: Iterable[Any]) -> str:
    """A target key as text: its fields' values joined by ``|`` (a line number as digits)."""
    return "|".join("" if v is None else str(v) for v in values)
