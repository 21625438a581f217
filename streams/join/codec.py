"""JSON for table values and internal messages, keeping the types the Avro deserializer returns.

A parked row holds ``Decimal`` amounts, ``date``, ``datetime`` and ``UUID`` values; plain JSON would turn them into
strings and floats, and the target's Avro serializer would then reject (or round) them. Each such value is
written as a one-key object (``{"$dec": "12.5000"}``, ``{"$date": "2024-05-01"}``, ``{"$ts": 1714...}``)
and read back as what it was.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return {"$dec": str(value)}
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return {"$ts": round(moment.timestamp() * 1000)}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, UUID):
        return {"$uuid": str(value)}
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not serializable")


def _hook(obj: dict[str, Any]) -> Any:
    if len(obj) == 1:
        [(tag, value)] = obj.items()
        if tag == "$dec":
            return Decimal(value)
        if tag == "$date":
            return date.fromisoformat(value)
        if tag == "$uuid":
            return UUID(value)
        if tag == "$ts":
            return datetime.fromtimestamp(value / 1000, tz=UTC)
    return obj


def dumps(value: Any) -> bytes:
    """Compact, key-sorted JSON bytes: equal values give equal bytes."""
    return json.dumps(value, default=_default, separators=(",", ":"), sort_keys=True).encode()


def loads(data: bytes | None) -> Any:
    """The value :func:`dumps` wrote; None for None."""
    return None if data is None else json.loads(data, object_hook=_hook)
