"""The OpenAPI 3.1 description of the control API, built from its route table (control/api.py)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from p2c import __version__

if TYPE_CHECKING:
    from p2c.control.api import Route

ERROR = {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}


def _operation(route: Route) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, text in route.responses.items():
        if route.path == "/metrics":
            responses[status] = {"description": text, "content": {"text/plain": {"schema": {"type": "string"}}}}
        else:
            schema = ERROR if status >= "400" else {"type": "object"}
            responses[status] = {"description": text, "content": {"application/json": {"schema": schema}}}
    operation: dict[str, Any] = {
        "summary": route.summary,
        "operationId": f"{route.method.lower()}{route.path.replace('/', '_').replace('{', '').replace('}', '')}",
        "tags": list(route.tags),
        "responses": responses,
    }
    if route.parameters:
        operation["parameters"] = list(route.parameters)
    if route.body is not None:
        schema = {"type": "object", "properties": route.body}
        operation["requestBody"] = {"required": False, "content": {"application/json": {"schema": schema}}}
    return operation


def document(routes: Iterable[Route]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "p2c control API",
            "version": __version__,
            "description": "Flows, their figures, dead letters and health of a p2c pipeline. "
            "The console at / and the `p2c status` and `p2c dlq` commands use the same library code.",
        },
        "paths": paths,
    }
