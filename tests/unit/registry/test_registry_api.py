"""The HTTP layer, over real sockets on an in-memory log: paths, statuses, Confluent error bodies."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.unit.registry.registry_support import V1, V2, V3_BREAKS_BACKWARD, client

pytestmark = pytest.mark.timeout(10)

CT = "application/vnd.schemaregistry.v1+json"
Client = TestClient[Any, Any]


def http(scenario: Callable[[Client], Awaitable[None]]) -> None:
    async def main() -> None:
        async with client() as c:
            await scenario(c)

    asyncio.run(main())


async def call(c: Client, method: str, path: str, body: Any = None, status: int = 200) -> Any:
    kwargs: dict[str, Any] = {} if body is None else {"json": body, "headers": {"Content-Type": CT}}
    resp = await c.request(method, path, **kwargs)
    text = await resp.text()
    assert resp.status == status, text
    assert resp.content_type == CT
    return await resp.json()


async def error(c: Client, method: str, path: str, body: Any = None, status: int = 404) -> int:
    doc = await call(c, method, path, body, status)
    assert set(doc) == {"error_code", "message"} and doc["message"]
    return int(doc["error_code"])


def test_register_read_and_lookup() -> None:
    async def scenario(c: Client) -> None:
        assert await call(c, "GET", "/") == {}
        assert await call(c, "POST", "/subjects/orders-value/versions", {"schema": V1}) == {"id": 1}
        assert await call(c, "POST", "/subjects/orders-value/versions", {"schema": V2, "schemaType": "AVRO"}) == {
            "id": 2
        }
        assert await call(c, "GET", "/subjects") == ["orders-value"]
        assert await call(c, "GET", "/subjects/orders-value/versions") == [1, 2]
        latest = await call(c, "GET", "/subjects/orders-value/versions/latest")
        assert {k: latest[k] for k in ("subject", "version", "id")} == {
            "subject": "orders-value",
            "version": 2,
            "id": 2,
        }
        assert await call(c, "GET", "/subjects/orders-value/versions/-1") == latest
        assert (await call(c, "GET", "/subjects/orders-value/versions/1/schema"))["fields"][0]["name"] == "a"
        assert (await call(c, "GET", "/schemas/ids/1"))["schema"] == (
            await call(c, "GET", "/subjects/orders-value/versions/1")
        )["schema"]
        assert (await call(c, "GET", "/schemas/ids/2/schema"))["type"] == "record"
        assert await call(c, "GET", "/schemas/ids/1/subjects") == ["orders-value"]
        assert await call(c, "GET", "/schemas/ids/1/versions") == [{"subject": "orders-value", "version": 1}]
        assert await call(c, "GET", "/schemas/types") == ["AVRO"]
        found = await call(c, "POST", "/subjects/orders-value", {"schema": V1})
        assert (found["version"], found["id"]) == (1, 1)
        # Plain application/json is accepted too.
        resp = await c.post(
            "/subjects/other/versions", data=json.dumps({"schema": V1}), headers={"Content-Type": "application/json"}
        )
        assert resp.status == 200 and await resp.json() == {"id": 1}

    http(scenario)


def test_errors_follow_confluent() -> None:
    async def scenario(c: Client) -> None:
        await call(c, "POST", "/subjects/s/versions", {"schema": V2})
        assert await error(c, "GET", "/subjects/nope/versions") == 40401
        assert await error(c, "GET", "/subjects/nope/versions/1") == 40401
        assert await error(c, "GET", "/subjects/s/versions/9") == 40402
        assert await error(c, "GET", "/subjects/s/versions/0", status=422) == 42202
        assert await error(c, "GET", "/subjects/s/versions/x", status=422) == 42202
        assert await error(c, "POST", "/subjects/nope", {"schema": V1}) == 40401
        assert await error(c, "POST", "/subjects/s", {"schema": V1}) == 40403
        assert await error(c, "GET", "/schemas/ids/99") == 40403
        assert await error(c, "POST", "/subjects/s/versions", {"schema": V3_BREAKS_BACKWARD}, 409) == 409
        assert await error(c, "POST", "/subjects/s/versions", {"schema": "{"}, 422) == 42201
        assert await error(c, "POST", "/subjects/s/versions", {"schema": V1, "schemaType": "JSON"}, 422) == 42201
        resp = await c.post("/subjects/s/versions", data="{oops", headers={"Content-Type": CT})
        assert resp.status == 422 and "Invalid JSON" in (await resp.json())["message"]
        assert await error(c, "PUT", "/config", {"compatibility": "SIDEWAYS"}, 422) == 42203
        assert await error(c, "PUT", "/mode", {"mode": "SIDEWAYS"}, 422) == 42204
        assert await error(c, "GET", "/no/such/path") == 404
        assert await error(c, "PATCH", "/subjects", status=405) == 405

    http(scenario)


def test_deletes() -> None:
    async def scenario(c: Client) -> None:
        await call(c, "POST", "/subjects/s/versions", {"schema": V1})
        await call(c, "POST", "/subjects/s/versions", {"schema": V2})
        assert await error(c, "DELETE", "/subjects/s/versions/1?permanent=true") == 40407
        assert await call(c, "DELETE", "/subjects/s/versions/1") == 1
        assert await error(c, "DELETE", "/subjects/s/versions/1") == 40406
        assert await error(c, "GET", "/subjects/s/versions/1") == 40402
        assert (await call(c, "GET", "/subjects/s/versions/1?deleted=true"))["id"] == 1
        assert await call(c, "DELETE", "/subjects/s/versions/1?permanent=true") == 1
        assert await error(c, "DELETE", "/subjects/s?permanent=true") == 40405
        assert await call(c, "DELETE", "/subjects/s") == [2]
        assert await error(c, "DELETE", "/subjects/s") == 40404
        assert await call(c, "GET", "/subjects") == []
        assert await call(c, "GET", "/subjects?deleted=true") == ["s"]
        assert await call(c, "DELETE", "/subjects/s?permanent=true") == [2]
        assert await error(c, "DELETE", "/subjects/s") == 40401

    http(scenario)


def test_config_mode_and_compatibility_endpoints() -> None:
    async def scenario(c: Client) -> None:
        assert await call(c, "GET", "/config") == {"compatibilityLevel": "BACKWARD"}
        assert await call(c, "PUT", "/config", {"compatibility": "full"}) == {"compatibility": "FULL"}
        assert await error(c, "GET", "/config/s") == 40408
        assert await call(c, "GET", "/config/s?defaultToGlobal=true") == {"compatibilityLevel": "FULL"}
        assert await call(c, "PUT", "/config/s", {"compatibility": "BACKWARD"}) == {"compatibility": "BACKWARD"}
        assert await call(c, "GET", "/config/s") == {"compatibilityLevel": "BACKWARD"}
        assert await call(c, "DELETE", "/config/s") == {"compatibilityLevel": "BACKWARD"}
        assert await call(c, "DELETE", "/config") == {"compatibilityLevel": "FULL"}
        assert await call(c, "GET", "/config") == {"compatibilityLevel": "BACKWARD"}

        await call(c, "POST", "/subjects/s/versions", {"schema": V2})
        path = "/compatibility/subjects/s/versions"
        assert await call(c, "POST", f"{path}/latest", {"schema": V1}) == {"is_compatible": True}
        verdict = await call(c, "POST", f"{path}?verbose=True", {"schema": V3_BREAKS_BACKWARD})
        assert verdict["is_compatible"] is False and "'c'" in verdict["messages"][0]
        assert await error(c, "POST", f"{path}/7", {"schema": V1}) == 40402
        assert await call(c, "POST", "/compatibility/subjects/new/versions/latest", {"schema": V1}) == {
            "is_compatible": True
        }

        assert await call(c, "GET", "/mode") == {"mode": "READWRITE"}
        assert await call(c, "PUT", "/mode", {"mode": "READONLY"}) == {"mode": "READONLY"}
        assert await error(c, "POST", "/subjects/s/versions", {"schema": V1}, 422) == 42205
        assert await error(c, "DELETE", "/subjects/s", status=422) == 42205
        assert await error(c, "GET", "/mode/s") == 40409
        assert await call(c, "GET", "/mode/s?defaultToGlobal=true") == {"mode": "READONLY"}
        assert await call(c, "PUT", "/mode/s", {"mode": "READWRITE"}) == {"mode": "READWRITE"}
        assert await call(c, "POST", "/subjects/s/versions", {"schema": V1}) == {"id": 2}
        assert await call(c, "DELETE", "/mode/s") == {"mode": "READWRITE"}
        assert await error(c, "PUT", "/mode", {"mode": "IMPORT"}, 422) == 42205
        assert await call(c, "PUT", "/mode?force=true", {"mode": "IMPORT"}) == {"mode": "IMPORT"}
        meta = await call(c, "GET", "/v1/metadata/id")
        assert meta["scope"]["clusters"]["kafka-cluster"] is None  # no Kafka behind the memory store

    http(scenario)
