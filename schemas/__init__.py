"""The Avro contracts: one ``<topic>.avsc`` per topic value, the single source of truth.

Registered under the topic-name strategy (``<topic>-value``) with BACKWARD compatibility.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

SUFFIX = ".avsc"


def topics() -> list[str]:
    """Every topic that has a schema here, sorted."""
    return sorted(
        entry.name.removesuffix(SUFFIX) for entry in resources.files(__name__).iterdir() if entry.name.endswith(SUFFIX)
    )


def text(topic: str) -> str:
    """The schema of ``topic``'s values as written in its file."""
    entry = resources.files(__name__).joinpath(topic + SUFFIX)
    if not entry.is_file():
        raise KeyError(f"no schema for topic {topic!r} in schemas/; known: {', '.join(topics())}")
    return entry.read_text(encoding="utf-8")


@cache
def load(topic: str) -> dict[str, Any]:
    """The schema of ``topic``'s values, parsed as JSON."""
    schema: dict[str, Any] = json.loads(text(topic))
    return schema
