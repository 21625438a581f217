"""The Avro contracts: one ``<topic>.avsc`` per topic value, the single source of truth.

Registered under the topic-name strategy (``<topic>-value``) with BACKWARD compatibility. A customer's
schemas directory (``P2C_SCHEMAS_DIR``, :mod:`p2c.overrides`) overrides or extends these, file by file:
everything here reads the file in force; ``shipped_text`` reads the one in the package.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from p2c import overrides
from p2c.errors import ConfigurationError

SUFFIX = ".avsc"


def shipped_topics() -> list[str]:
    """Every topic the package ships a schema for, sorted."""
    return sorted(
        entry.name.removesuffix(SUFFIX) for entry in resources.files(__name__).iterdir() if entry.name.endswith(SUFFIX)
    )


def overriding() -> dict[str, Path]:
    """Topic -> the customer's schema file for it (overriding a shipped one or adding one)."""
    folder = overrides.schemas_dir()
    if folder is None:
        return {}
    return {path.name.removesuffix(SUFFIX): path for path in sorted(folder.glob(f"*{SUFFIX}"))}


def topics() -> list[str]:
    """Every topic that has a schema (shipped, or the customer's), sorted."""
    return sorted({*shipped_topics(), *overriding()})


def shipped_text(topic: str) -> str | None:
    """The schema the package ships for ``topic``; None when it ships none."""
    entry = resources.files(__name__).joinpath(topic + SUFFIX)
    return entry.read_text(encoding="utf-8") if entry.is_file() else None


def location(topic: str) -> str:
    """Where the schema in force for ``topic`` comes from: the customer's file, or ``schemas/<topic>.avsc``."""
    own = overriding().get(topic)
    return str(own) if own is not None else f"schemas/{topic}{SUFFIX}"


def text(topic: str) -> str:
    """The schema of ``topic``'s values as written in its file: the customer's, else the shipped one."""
    own = overriding().get(topic)
    if own is not None:
        return own.read_text(encoding="utf-8")
    shipped = shipped_text(topic)
    if shipped is None:
        raise KeyError(f"no schema for topic {topic!r} in schemas/; known: {', '.join(topics())}")
    return shipped


def load(topic: str) -> dict[str, Any]:
    """The schema of ``topic``'s values, parsed as JSON (once per file in force)."""
    return _parsed(topic, str(overriding().get(topic) or ""))


@cache
def _parsed(topic: str, own: str) -> dict[str, Any]:
    try:
        schema: dict[str, Any] = json.loads(text(topic))
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f"schema {location(topic)} is not valid JSON: {exc}") from exc
    return schema
