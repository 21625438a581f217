"""JSON values <-> SQLite values, by field type, with the field named in every error."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from p2c.sandbox.odata.model import Field, Type


class ValueError_(ValueError):
    def __init__(self, field: Field, value: Any, expected: str) -> None:
        super().__init__(
            f"Cannot convert the literal '{value}' to the expected type '{expected}' for property '{field.name}'."
        )
        self.field = field


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: an OData DateTimeOffset literal: a date, a time and an offset (``Z`` or ``+hh:mm``), nothing less
_DATETIME_OFFSET = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?(Z|[+-]\d{2}:\d{2})$")


def now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)


def iso_ms(ms: int) -> str:
    """Milliseconds since the epoch -> ``YYYY-MM-DDTHH:MM:SS.fffZ`` (the stored form)."""
    value = datetime.fromtimestamp(ms / 1000, UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def iso_to_ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def to_db(field: Field, value: Any, *, strict_datetime: bool = False) -> Any:
    """A JSON value for ``field`` -> the value to store; raises :class:`ValueError_` when it does not fit.

    ``strict_datetime``: a ``DateTimeOffset`` must carry a time and an offset (a bare date is refused).
    """
    if value is None:
        return None
    if field.enum:
        if not isinstance(value, str) or value not in {m for m, _ in field.members}:
            raise ValueError_(field, value, field.enum)
        return value
    t = field.type
    if t is Type.DATETIME and strict_datetime and not (isinstance(value, str) and _DATETIME_OFFSET.match(value)):
        raise ValueError_(field, value, t.value)
    if t is Type.STRING:
        if not isinstance(value, str):
            raise ValueError_(field, value, t.value)
        return value
    if t in (Type.INT, Type.BIGINT):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError_(field, value, t.value)
        if t is Type.INT and not -(2**31) <= value < 2**31:
            raise ValueError_(field, value, t.value)
        return value
    if t is Type.BOOL:
        if not isinstance(value, bool):
            raise ValueError_(field, value, t.value)
        return 1 if value else 0
    if t is Type.DECIMAL:
        return _decimal(field, value)
    if t is Type.DOUBLE:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError_(field, value, t.value)
        return float(value)
    if t is Type.DATETIME:
        return _datetime(field, value)
    if t is Type.DATE:
        if not isinstance(value, str) or not _DATE.match(value):
            raise ValueError_(field, value, t.value)
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError as exc:
            raise ValueError_(field, value, t.value) from exc
    if t is Type.GUID:
        try:
            return str(uuid.UUID(str(value)))
        except ValueError as exc:
            raise ValueError_(field, value, t.value) from exc
    raise AssertionError(t)


def _decimal(field: Field, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError_(field, value, Type.DECIMAL.value)
    try:
        number = Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError_(field, value, Type.DECIMAL.value) from exc
    if not number.is_finite():
        raise ValueError_(field, value, Type.DECIMAL.value)
    if field.scale is not None:
        number = round(number, field.scale)
    return float(number)


def _datetime(field: Field, value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError_(field, value, Type.DATETIME.value)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError_(field, value, Type.DATETIME.value) from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    parsed = parsed.astimezone(UTC)
    return parsed.strftime("%Y-%m-%dT%H:%M:%S.") + f"{parsed.microsecond // 1000:03d}Z"


def seconds(text: str) -> str:
    """Stored date-time -> Dataverse's output form, whole seconds: ``2024-05-01T12:00:00Z``."""
    return text[:19] + "Z"


def millis(text: str) -> str:
    return text


def from_db(field: Field, value: Any, datetime_out: Callable[[str], str] = millis) -> Any:
    """A stored value -> its JSON value."""
    if value is None:
        return None
    t = field.type
    if t is Type.BOOL:
        return bool(value)
    if t in (Type.DECIMAL, Type.DOUBLE):
        return float(value)
    if t is Type.DATETIME:
        return datetime_out(value)
    return value
