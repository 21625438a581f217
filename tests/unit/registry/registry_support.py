"""Shared helpers for the registry unit tests: schemas as strings, and an HTTP client on a MemoryStore."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from p2c.registry import MemoryLog, MemoryStore, Registry
from p2c.registry.api import make_app


def rec(*fields: tuple[str, Any] | dict[str, Any], name: str = "R") -> str:
    """A record schema as a string; a field is ``(name, type)`` or a full field dict."""
    out = [f if isinstance(f, dict) else {"name": f[0], "type": f[1]} for f in fields]
    return json.dumps({"type": "record", "name": name, "fields": out})


V1 = rec(("a", "int"))
V2 = rec(("a", "int"), {"name": "b", "type": "string", "default": ""})
V3_BREAKS_BACKWARD = rec(("a", "int"), {"name": "b", "type": "string", "default": ""}, ("c", "int"))


async def started(log: MemoryLog | None = None) -> Registry:
    registry = Registry(MemoryStore(log))
    await registry.start()
    return registry


@asynccontextmanager
async def client(registry: Registry | None = None) -> AsyncIterator[TestClient[Any, Any]]:
    registry = registry or await started()
    async with TestClient(TestServer(make_app(registry))) as c:
        yield c
