"""The HTTP layer: Confluent's REST API over ``registry.core.Registry``, with aiohttp.

Handlers only translate: path and query in, JSON out. A ``RegistryError`` becomes Confluent's error body
``{"error_code": ..., "message": ...}`` with the matching HTTP status.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from p2c.registry import requests as req
from p2c.registry.core import Registry
from p2c.registry.errors import ErrorCode, RegistryError
from p2c.registry.schema import SCHEMA_TYPES
from p2c.registry.store import StoreError

log = logging.getLogger("p2c.registry")

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
REGISTRY_KEY = web.AppKey("registry", Registry)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def reply(body: Any, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(body), status=status, content_type=CONTENT_TYPE)


def error(code: ErrorCode, message: str) -> web.Response:
    return reply({"error_code": int(code), "message": message}, code.http_status)


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except RegistryError as exc:
        return error(exc.code, exc.message)
    except StoreError as exc:
        log.warning("%s %s failed: %s", request.method, request.path, exc)
        return error(ErrorCode.STORE_ERROR, f"Error in the backend datastore: {exc}")
    except web.HTTPException as exc:
        code = {404: ErrorCode.NOT_FOUND, 405: ErrorCode.METHOD_NOT_ALLOWED}.get(exc.status)
        if code is None:
            raise
        return error(code, f"HTTP {exc.status} {exc.reason}")


async def body(request: web.Request) -> Any:
    """The JSON body, whatever JSON content type the client named (Confluent's, or plain JSON)."""
    text = await request.text()
    try:
        return json.loads(text) if text.strip() else None
    except ValueError as exc:
        raise RegistryError(ErrorCode.UNPROCESSABLE_ENTITY, f"Invalid JSON in the request body: {exc}") from exc


def core(request: web.Request) -> Registry:
    return request.app[REGISTRY_KEY]


def flag(request: web.Request, name: str) -> bool:
    return req.flag(request.query.get(name))


def subject(request: web.Request) -> str:
    return request.match_info["subject"]


def schema_id(request: web.Request) -> int:
    try:
        return int(request.match_info["id"])
    except ValueError as exc:
        raise RegistryError(ErrorCode.SCHEMA_NOT_FOUND, f"Schema {request.match_info['id']} not found") from exc


routes = web.RouteTableDef()


@routes.get("/")
async def root(request: web.Request) -> web.Response:
    return reply({})


@routes.get("/v1/metadata/id")
async def metadata_id(request: web.Request) -> web.Response:
    cluster = await core(request).cluster_id()
    return reply({"scope": {"path": [], "clusters": {"kafka-cluster": cluster, "schema-registry-cluster": "p2c"}}})


@routes.get("/subjects")
async def list_subjects(request: web.Request) -> web.Response:
    return reply(core(request).subjects(flag(request, "deleted"), request.query.get("subjectPrefix", "")))


@routes.get("/subjects/{subject}/versions")
async def list_versions(request: web.Request) -> web.Response:
    return reply(core(request).versions(subject(request), flag(request, "deleted")))


@routes.post("/subjects/{subject}/versions")
async def register(request: web.Request) -> web.Response:
    return reply(await core(request).register(subject(request), await body(request)))


@routes.get("/subjects/{subject}/versions/{version}")
async def get_version(request: web.Request) -> web.Response:
    r = core(request)
    return reply(r.describe(r.version(subject(request), request.match_info["version"], flag(request, "deleted"))))


@routes.get("/subjects/{subject}/versions/{version}/schema")
async def get_version_schema(request: web.Request) -> web.Response:
    r = core(request)
    v = r.version(subject(request), request.match_info["version"], flag(request, "deleted"))
    return web.Response(text=r.state.schemas[v.schema_id].text, content_type=CONTENT_TYPE)


@routes.get("/subjects/{subject}/versions/{version}/referencedby")
async def referenced_by(request: web.Request) -> web.Response:
    r = core(request)
    v = r.version(subject(request), request.match_info["version"])
    return reply(sorted({u.schema_id for u in r.state.referrers(v.subject, v.version)}))


@routes.post("/subjects/{subject}")
async def lookup(request: web.Request) -> web.Response:
    return reply(core(request).lookup(subject(request), await body(request), flag(request, "deleted")))


@routes.delete("/subjects/{subject}")
async def delete_subject(request: web.Request) -> web.Response:
    return reply(await core(request).deletes.delete_subject(subject(request), flag(request, "permanent")))


@routes.delete("/subjects/{subject}/versions/{version}")
async def delete_version(request: web.Request) -> web.Response:
    version = request.match_info["version"]
    return reply(await core(request).deletes.delete_version(subject(request), version, flag(request, "permanent")))


@routes.get("/schemas/types")
async def schema_types(request: web.Request) -> web.Response:
    return reply(list(SCHEMA_TYPES))


@routes.get("/schemas/ids/{id}")
async def get_schema(request: web.Request) -> web.Response:
    r = core(request)
    return reply(r.schema_json(r.schema(schema_id(request)).schema_id))


@routes.get("/schemas/ids/{id}/schema")
async def get_raw_schema(request: web.Request) -> web.Response:
    return web.Response(text=core(request).schema(schema_id(request)).text, content_type=CONTENT_TYPE)


@routes.get("/schemas/ids/{id}/subjects")
async def schema_subjects(request: web.Request) -> web.Response:
    r = core(request)
    found = r.state.live_versions_of(r.schema(schema_id(request)).schema_id, flag(request, "deleted"))
    return reply(sorted({v.subject for v in found}))


@routes.get("/schemas/ids/{id}/versions")
async def schema_versions(request: web.Request) -> web.Response:
    r = core(request)
    found = r.state.live_versions_of(r.schema(schema_id(request)).schema_id, flag(request, "deleted"))
    return reply([{"subject": v.subject, "version": v.version} for v in found])


@routes.post("/compatibility/subjects/{subject}/versions/{version}")
async def compatibility_version(request: web.Request) -> web.Response:
    r, version = core(request), request.match_info["version"]
    return reply(r.test_compatibility(subject(request), version, await body(request), flag(request, "verbose")))


@routes.post("/compatibility/subjects/{subject}/versions")
async def compatibility_all(request: web.Request) -> web.Response:
    r = core(request)
    return reply(r.test_compatibility(subject(request), None, await body(request), flag(request, "verbose")))


@routes.get("/config")
async def get_global_config(request: web.Request) -> web.Response:
    return reply(core(request).settings.get_config())


@routes.put("/config")
async def put_global_config(request: web.Request) -> web.Response:
    return reply(await core(request).settings.set_config(None, await body(request)))


@routes.delete("/config")
async def delete_global_config(request: web.Request) -> web.Response:
    return reply(await core(request).settings.delete_config())


@routes.get("/config/{subject}")
async def get_config(request: web.Request) -> web.Response:
    return reply(core(request).settings.get_config(subject(request), flag(request, "defaultToGlobal")))


@routes.put("/config/{subject}")
async def put_config(request: web.Request) -> web.Response:
    return reply(await core(request).settings.set_config(subject(request), await body(request)))


@routes.delete("/config/{subject}")
async def delete_config(request: web.Request) -> web.Response:
    return reply(await core(request).settings.delete_config(subject(request)))


@routes.get("/mode")
async def get_global_mode(request: web.Request) -> web.Response:
    return reply(core(request).settings.get_mode())


@routes.put("/mode")
async def put_global_mode(request: web.Request) -> web.Response:
    return reply(await core(request).settings.set_mode(None, await body(request), flag(request, "force")))


@routes.get("/mode/{subject}")
async def get_mode(request: web.Request) -> web.Response:
    return reply(core(request).settings.get_mode(subject(request), flag(request, "defaultToGlobal")))


@routes.put("/mode/{subject}")
async def put_mode(request: web.Request) -> web.Response:
    s = subject(request)
    return reply(await core(request).settings.set_mode(s, await body(request), flag(request, "force")))


@routes.delete("/mode/{subject}")
async def delete_mode(request: web.Request) -> web.Response:
    return reply(await core(request).settings.delete_mode(subject(request)))


def make_app(registry: Registry) -> web.Application:
    """The aiohttp application serving ``registry`` (started and stopped by the caller)."""
    app = web.Application(middlewares=[errors])
    app[REGISTRY_KEY] = registry
    app.add_routes(routes)
    return app
