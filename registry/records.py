"""The records of the ``_schemas`` topic, in Confluent's key/value JSON formats.

Every change is one record; replaying the topic from the beginning rebuilds the registry. Keys:

    {"keytype": "SCHEMA", "subject": s, "version": v, "magic": 1}   value: the version, or null (hard delete)
    {"keytype": "CONFIG", "subject": s|null, "magic": 0}              value: {"compatibilityLevel": L} or null
    {"keytype": "MODE", "subject": s|null, "magic": 0}                value: {"mode": M} or null
    {"keytype": "DELETE_SUBJECT", "subject": s, "magic": 0}          value: {"subject": s, "version": v}
    {"keytype": "CLEAR_SUBJECT", "subject": s, "magic": 0}           value: {"subject": s}
    {"keytype": "NOOP", "magic": 0}                                   value: null (ignored)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

SCHEMA = "SCHEMA"
CONFIG = "CONFIG"
MODE = "MODE"
DELETE_SUBJECT = "DELETE_SUBJECT"
CLEAR_SUBJECT = "CLEAR_SUBJECT"
NOOP = "NOOP"

JSONDict = dict[str, Any]


@dataclass(frozen=True)
class Record:
    """One decoded record of the log. ``offset`` is its position; ``value`` None is a tombstone."""

    offset: int
    key: JSONDict
    value: JSONDict | None

    @property
    def keytype(self) -> str:
        return str(self.key.get("keytype", ""))


def encode(doc: JSONDict | None) -> bytes | None:
    """Compact JSON, keys in insertion order (Confluent's key order matters to compaction: keep it stable)."""
    return None if doc is None else json.dumps(doc, separators=(",", ":")).encode()


def decode(offset: int, key: bytes | None, value: bytes | None) -> Record | None:
    """The record at ``offset``, or None when the key is not one of ours (then it is skipped)."""
    if not key:
        return None
    try:
        k = json.loads(key)
        v = json.loads(value) if value else None
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(k, dict) or (v is not None and not isinstance(v, dict)):
        return None
    return Record(offset, k, v)


def schema_key(subject: str, version: int) -> JSONDict:
    return {"keytype": SCHEMA, "subject": subject, "version": version, "magic": 1}


def schema_value(
    subject: str,
    version: int,
    schema_id: int,
    schema: str,
    *,
    schema_type: str = "AVRO",
    references: list[JSONDict] | None = None,
    deleted: bool = False,
) -> JSONDict:
    value: JSONDict = {"subject": subject, "version": version, "id": schema_id, "schema": schema}
    if schema_type != "AVRO":
        value["schemaType"] = schema_type
    if references:
        value["references"] = references
    value["deleted"] = deleted
    return value


def config_key(subject: str | None) -> JSONDict:
    return {"keytype": CONFIG, "subject": subject, "magic": 0}


def mode_key(subject: str | None) -> JSONDict:
    return {"keytype": MODE, "subject": subject, "magic": 0}


def delete_subject_key(subject: str) -> JSONDict:
    return {"keytype": DELETE_SUBJECT, "subject": subject, "magic": 0}


def clear_subject_key(subject: str) -> JSONDict:
    return {"keytype": CLEAR_SUBJECT, "subject": subject, "magic": 0}
