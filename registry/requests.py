"""Validation of what clients send: version ids, request bodies, levels, modes, boolean query flags."""

from __future__ import annotations

from typing import Any, Literal

from p2c.registry.compat import LEVELS
from p2c.registry.errors import ErrorCode, RegistryError

MODES = ("READWRITE", "READONLY", "READONLY_OVERRIDE", "IMPORT")
_MAX_VERSION = 2**31 - 1

VersionId = int | Literal["latest"]


def version_id(text: str) -> VersionId:
    """A version path segment: 1 to 2^31-1, ``latest`` or -1 (which means latest). Else 42202."""
    if text == "latest":
        return "latest"
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number == -1:
        return "latest"
    if not 1 <= number <= _MAX_VERSION:
        raise RegistryError(
            ErrorCode.INVALID_VERSION,
            f"The specified version '{text}' is not a valid version id. "
            f'Allowed values are between [1, {_MAX_VERSION}] and the string "latest"',
        )
    return number


def flag(value: str | None) -> bool:
    """A boolean query parameter: ``true`` in any case (the Python client sends ``True``)."""
    return value is not None and value.strip().lower() == "true"


def body_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise RegistryError(ErrorCode.UNPROCESSABLE_ENTITY, "The request body must be a JSON object")
    return body


def references(body: dict[str, Any]) -> tuple[tuple[str, str, int], ...]:
    """The ``references`` of a schema request as (name, subject, version) triples, or 42201."""
    raw = body.get("references") or []
    if not isinstance(raw, list):
        raise RegistryError(ErrorCode.INVALID_SCHEMA, "Invalid schema: 'references' must be a list")
    out = []
    for ref in raw:
        if not (
            isinstance(ref, dict)
            and isinstance(ref.get("name"), str)
            and isinstance(ref.get("subject"), str)
            and isinstance(ref.get("version"), int)
        ):
            raise RegistryError(
                ErrorCode.INVALID_SCHEMA,
                f"Invalid schema: reference {ref!r} needs a name, a subject and an integer version",
            )
        out.append((ref["name"], ref["subject"], ref["version"]))
    return tuple(out)


def level(body: Any) -> str:
    """The compatibility level of a PUT /config body (``compatibility``, or ``compatibilityLevel``)."""
    doc = body_object(body)
    value = doc.get("compatibility", doc.get("compatibilityLevel"))
    if not isinstance(value, str) or value.upper() not in LEVELS:
        raise RegistryError(
            ErrorCode.INVALID_COMPATIBILITY_LEVEL,
            "Invalid compatibility level. Valid values are none, backward, forward, full, "
            "backward_transitive, forward_transitive, and full_transitive",
        )
    return value.upper()


def mode(body: Any) -> str:
    value = body_object(body).get("mode")
    if not isinstance(value, str) or value.upper() not in MODES:
        raise RegistryError(ErrorCode.INVALID_MODE, f"Invalid mode. Valid values are {', '.join(MODES)}")
    return value.upper()


def explicit_int(body: dict[str, Any], name: str) -> int | None:
    """An ``id`` or ``version`` given in a registration (allowed in IMPORT mode only)."""
    value = body.get(name)
    if value is None or (isinstance(value, int) and value == -1):
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise RegistryError(ErrorCode.UNPROCESSABLE_ENTITY, f"'{name}' must be a positive integer")
    return value
