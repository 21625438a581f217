"""The request/response core both services share, independent of the HTTP server.

A service turns a :class:`Request` (path relative to the API root, decoded query, lower-case headers) into a
:class:`Response`. The aiohttp layer (:mod:`sandbox.odata.http`) and the ``$batch`` executor below both call
:meth:`Service.handle`, so a request behaves the same alone and inside a batch.
"""

from __future__ import annotations

import json
import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from p2c.sandbox.odata.batch import ChangeSet, Part, PartResponse, count_requests, parse_batch, write_batch
from p2c.sandbox.odata.errors import ODataError
from p2c.sandbox.odata.model import EntitySet
from p2c.sandbox.odata.sqlite import Database

log = logging.getLogger("p2c.sandbox")

JSON_TYPE = "application/json; odata.metadata=minimal"
_PREFERENCE = re.compile(r'\s*([\w.-]+)\s*(?:=\s*("[^"]*"|[^,]*))?\s*(?:,|$)')
_CONTENT_REF = re.compile(rb'"\$([^"/]+)"')
MAX_BATCH_REQUESTS = 1000


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    client: str = ""
    base_url: str = ""

    def json(self, code: str = "") -> dict[str, Any]:
        if not self.body.strip():
            return {}
        try:
            data = json.loads(self.body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ODataError(400, f"The request body is not valid JSON: {exc}", code) from exc
        if not isinstance(data, dict):
            raise ODataError(400, "The request body must be a JSON object.", code)
        return data

    def prefer(self) -> dict[str, str]:
        """``Prefer`` preferences: name -> value ('' when it has none)."""
        prefs: dict[str, str] = {}
        for m in _PREFERENCE.finditer(self.headers.get("prefer", "")):
            prefs[m.group(1).lower()] = (m.group(2) or "").strip().strip('"')
        return prefs


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
        hdrs = {"Content-Type": JSON_TYPE, "OData-Version": "4.0", **(headers or {})}
        return cls(status, json.dumps(payload, separators=(",", ":")).encode(), hdrs)

    @classmethod
    def error(cls, err: ODataError) -> Response:
        return cls(
            err.status, err.payload(), {"Content-Type": "application/json", "OData-Version": "4.0", **err.headers}
        )


class _ChangeSetFailed(Exception):
    def __init__(self, response: PartResponse) -> None:
        self.response = response


class Service(ABC):
    """One OData service: its routes, its store's database, its error dialect."""

    name = "service"
    api_path = "/"
    error_code = ""  # default OData error code (Dataverse: hex codes; FinOps: empty)
    metadata: bytes  # the CSDL document each service builds for its entity sets
    #: requests (parts) one ``$batch`` may hold
    max_batch_parts = MAX_BATCH_REQUESTS
    #: whether ``Prefer: odata.continue-on-error`` makes a ``$batch`` go on after a failed change set
    continues_on_error = True

    def __init__(self, db: Database) -> None:
        self.db = db

    @abstractmethod
    def route(self, req: Request) -> Response:
        """Serve one request; raise ODataError for an error response."""

    # The entity-set handlers each service implements: (request, entity set, key or None) -> response.
    @abstractmethod
    def get_collection(self, req: Request, entity: EntitySet, key: Any) -> Response: ...

    @abstractmethod
    def post(self, req: Request, entity: EntitySet, key: Any) -> Response: ...

    @abstractmethod
    def get_one(self, req: Request, entity: EntitySet, key: Any) -> Response: ...

    @abstractmethod
    def patch(self, req: Request, entity: EntitySet, key: Any) -> Response: ...

    @abstractmethod
    def delete(self, req: Request, entity: EntitySet, key: Any) -> Response: ...

    def describe(self, req: Request, segments: list[str], sets: Sequence[EntitySet]) -> Response | None:
        """The service document (the root) or ``$metadata``; None for any other path."""
        if not segments:
            listed = [{"name": e.name, "kind": "EntitySet", "url": e.name} for e in sets]
            return Response.json(200, {"@odata.context": f"{req.base_url}$metadata", "value": listed})
        if segments == ["$metadata"]:
            return Response(200, self.metadata, {"Content-Type": "application/xml", "OData-Version": "4.0"})
        return None

    def dispatch(self, req: Request, entity: EntitySet, key: Any) -> Response:
        """The handler for the method on a collection (no key) or one row; 405 for any other method."""
        handler = {
            ("GET", False): self.get_collection,
            ("POST", False): self.post,
            ("GET", True): self.get_one,
            ("PATCH", True): self.patch,
            ("DELETE", True): self.delete,
        }.get((req.method, key is not None))
        if handler is None:
            raise ODataError(405, f"The HTTP method '{req.method}' is not allowed here.", self.error_code)
        return handler(req, entity, key)

    def handle(self, req: Request) -> Response:
        try:
            if req.method == "POST" and req.path == "$batch":
                return self.batch(req)
            return self.route(req)
        except ODataError as err:
            return Response.error(self.as_answered(err))

    def as_answered(self, err: ODataError) -> ODataError:
        """The error as this service answers it (a service may answer some errors with another status)."""
        return err

    # -- $batch ---------------------------------------------------------------------------------------

    def batch(self, req: Request) -> Response:
        items = parse_batch(req.body, req.headers.get("content-type", ""))
        if count_requests(items) > self.max_batch_parts:
            raise ODataError(
                400,
                f"The number of requests in a batch exceeds the limit of {self.max_batch_parts}.",
                self.error_code,
            )
        keep_going = self.continues_on_error and "odata.continue-on-error" in req.prefer()
        out: list[PartResponse | list[PartResponse]] = []
        for item in items:
            if isinstance(item, ChangeSet):
                result = self._changeset(item, req)
                out.append(result)
                failed = isinstance(result, PartResponse)
            else:
                part = self._run(item, req, {})
                out.append(part)
                failed = part.status >= 400
            if failed and not keep_going:
                break
        body, ctype = write_batch(out)
        return Response(200, body, {"Content-Type": ctype, "OData-Version": "4.0"})

    def _changeset(self, cs: ChangeSet, outer: Request) -> list[PartResponse] | PartResponse:
        ids: dict[str, str] = {}
        responses: list[PartResponse] = []
        try:
            with self.db.transaction():
                for part in cs.parts:
                    resp = self._run(part, outer, ids)
                    if resp.status >= 400:
                        raise _ChangeSetFailed(resp)
                    responses.append(resp)
                    entity_id = resp.headers.get("OData-EntityId") or resp.headers.get("Location")
                    if part.content_id and entity_id:
                        ids[part.content_id] = entity_id
        except _ChangeSetFailed as failed:
            log.info("change set of %d requests rolled back: status %d", len(cs.parts), failed.response.status)
            return failed.response
        return responses

    def _run(self, part: Part, outer: Request, ids: dict[str, str]) -> PartResponse:
        url = part.url
        if url.startswith("$") and "/" in url:  # a Content-ID reference: $1/...
            ref, rest = url[1:].split("/", 1)
            if ref in ids:
                url = ids[ref] + "/" + rest
        elif url.startswith("$") and url[1:] in ids:
            url = ids[url[1:]]
        try:
            path, query = self.relative(url)
        except ODataError as err:
            return PartResponse(err.status, {"Content-Type": "application/json"}, err.payload(), part.content_id)
        body = part.body
        if ids and b'"$' in body:  # "$1" as an @odata.bind value
            body = _CONTENT_REF.sub(
                lambda m: json.dumps(ids.get(m.group(1).decode(), m.group(0).decode()[1:-1])).encode(), body
            )
        inner = Request(part.method, path, query, {**part.headers}, body, outer.client, outer.base_url)
        if path == "$batch":
            resp = Response.error(ODataError(400, "A batch cannot contain another batch.", self.error_code))
        else:
            resp = self.handle(inner)
        return PartResponse(resp.status, resp.headers, resp.body, part.content_id)

    def relative(self, url: str) -> tuple[str, dict[str, str]]:
        """An absolute, root-relative or service-relative URL -> (path under the API root, query)."""
        parts = urlsplit(url)
        path = unquote(parts.path)
        if path.startswith(self.api_path):
            path = path[len(self.api_path) :]
        elif path.startswith("/"):
            raise ODataError(400, f"The URL '{url}' is not under {self.api_path}.", self.error_code)
        return path, dict(parse_qsl(parts.query, keep_blank_values=True))
