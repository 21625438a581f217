"""In-memory fakes for unit tests: a Dataverse-like and a FinOps-like service behind ``httpx.MockTransport``,
and Kafka producer/consumer/codec stand-ins. No sockets, no processes."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx

from p2c.connectors.core.batch import _boundary_of, _parts, _split_headers
from p2c.connectors.core.http import ODataClient
from p2c.connectors.core.retry import RetryPolicy

USER = "00000000-0000-0000-0000-0000000000aa"
OTHER = "00000000-0000-0000-0000-0000000000bb"
FAST = RetryPolicy(max_attempts=3, base_delay=0.0, max_delay=0.0, jitter=lambda d: 0.0)


def token_response(request: httpx.Request) -> httpx.Response | None:
    if request.url.path.endswith("/oauth2/v2.0/token"):
        return httpx.Response(200, json={"access_token": "t", "expires_in": 3600, "token_type": "Bearer"})
    return None


def client_for(handler: Callable[[httpx.Request], httpx.Response], root: str) -> ODataClient:
    return ODataClient(root, transport=httpx.MockTransport(handler), retry=FAST)


# ---- Dataverse --------------------------------------------------------------------------------------


@dataclass
class FakeDataverse:
    """Rows per entity set with versions; pages by maxpagesize; delta links ``$deltatoken=<version>!...``."""

    rows: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    deleted: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    version: int = 100
    expired: set[str] = field(default_factory=set)
    requests: list[httpx.Request] = field(default_factory=list)
    reference: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    root: str = "http://crm.test/api/data/v9.2/"

    def put(self, entity_set: str, key: str, row: dict[str, Any]) -> dict[str, Any]:
        self.version += 1
        row = {**row, "versionnumber": self.version}
        row.setdefault("modifiedon", "2026-01-02T03:04:05Z")
        row.setdefault("createdon", "2026-01-01T00:00:00Z")
        self.rows.setdefault(entity_set, {})[key] = row
        return row

    def delete(self, entity_set: str, key: str) -> None:
        self.version += 1
        self.rows[entity_set].pop(key)
        self.deleted.setdefault(entity_set, []).append((self.version, key))

    def client(self) -> ODataClient:
        return client_for(self.handle, self.root)

    def _page(
        self,
        entity_set: str,
        items: list[dict[str, Any]],
        start: int,
        size: int,
        since: int | None,
    ) -> httpx.Response:
        chunk = items[start : start + size]
        doc: dict[str, Any] = {"@odata.context": f"{self.root}$metadata#{entity_set}", "value": chunk}
        if start + size < len(items):
            mode = "d" if since is not None else "f"
            doc["@odata.nextLink"] = f"{self.root}{entity_set}?$skiptoken={mode}{since or 0}-{start + size}"
        else:
            doc["@odata.deltaLink"] = f"{self.root}{entity_set}?$deltatoken={self.version}%2101%2F02%2F2026"
        return httpx.Response(200, json=doc)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if (tok := token_response(request)) is not None:
            return tok
        path = request.url.path.removeprefix(urlsplit(self.root).path)
        params = {k: v[0] for k, v in parse_qs(request.url.query.decode()).items()}
        if path == "WhoAmI":
            return httpx.Response(200, json={"UserId": USER})
        if path in self.reference:
            return httpx.Response(200, json={"value": self.reference[path]})
        prefer = request.headers.get("Prefer", "")
        m = re.search(r"maxpagesize=(\d+)", prefer)
        size = int(m.group(1)) if m else 5000
        entity_set = path
        rows = self.rows.get(entity_set, {})
        if "$deltatoken" in params or params.get("$skiptoken", "").startswith("d"):
            start = 0
            if "$deltatoken" in params:
                token = unquote(params["$deltatoken"])
                if token in self.expired:
                    return httpx.Response(400, json={"error": {"code": "0x80044352", "message": "ExpiredVersionStamp"}})
                since = int(token.split("!")[0])
            else:
                since_s, start_s = params["$skiptoken"][1:].split("-")
                since, start = int(since_s), int(start_s)
            changed = [r for r in rows.values() if r["versionnumber"] > since]
            gone = [
                {"@odata.context": f"{self.root}$metadata#{entity_set}/$deletedEntity", "id": k, "reason": "deleted"}
                for v, k in self.deleted.get(entity_set, [])
                if v > since
            ]
            return self._page(entity_set, changed + gone, start, size, since)
        if "$skiptoken" in params:
            start = int(params["$skiptoken"].split("-")[1])
            return self._page(entity_set, list(rows.values()), start, size, None)
        return self._page(entity_set, list(rows.values()), 0, size, None)


# ---- FinOps -----------------------------------------------------------------------------------------


_KEY = re.compile(r"^(\w+)\((.*)\)$")


def parse_key(text: str) -> dict[str, str]:
    out = {}
    for piece in re.findall(r"(\w+)='((?:[^']|'')*)'", unquote(text)):
        out[piece[0]] = piece[1].replace("''", "'")
    return out


@dataclass
class FakeFinOps:
    """CustomersV3 rows keyed by (dataAreaId, CustomerAccount) lower-cased; $batch with change sets."""

    rows: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    reject: Callable[[dict[str, Any]], str | None] = lambda body: None
    throttle: int = 0  # answer the next N $batch requests with 429
    batches: list[int] = field(default_factory=list)
    gets: int = 0
    root: str = "http://erp.test/data/"

    def client(self) -> ODataClient:
        return client_for(self.handle, self.root)

    def _key(self, rec: dict[str, Any]) -> tuple[str, str]:
        return (str(rec["dataAreaId"]).lower(), str(rec["CustomerAccount"]).lower())

    def apply(self, method: str, url: str, body: dict[str, Any] | None) -> tuple[int, dict[str, Any] | None]:
        path = urlsplit(url).path.removeprefix(urlsplit(self.root).path)
        if body is not None and (why := self.reject(body)):
            return 400, {"error": {"message": why}}
        if method == "POST":
            assert body is not None
            key = self._key(body)
            if key in self.rows:
                return 409, {"error": {"message": "exists"}}
            self.rows[key] = dict(body)
            return 201, body
        m = _KEY.match(path)
        assert m, path
        key = self._key(parse_key(m.group(2)))
        if key not in self.rows:
            return 404, {"error": {"message": "not found"}}
        if method == "PATCH":
            self.rows[key] = {**self.rows[key], **(body or {})}  # rows are never changed in place
            return 204, None
        if method == "DELETE":
            del self.rows[key]
            return 204, None
        return 405, None

    def handle(self, request: httpx.Request) -> httpx.Response:
        if (tok := token_response(request)) is not None:
            return tok
        path = request.url.path.removeprefix(urlsplit(self.root).path)
        if path == "$batch":
            if self.throttle:
                self.throttle -= 1
                return httpx.Response(429, headers={"Retry-After": "0"})
            return self._batch(request)
        if path == "CustomersV3" and request.method == "GET":
            self.gets += 1
            flt = parse_qs(request.url.query.decode())["$filter"][0]
            wanted = {
                (a.lower(), b.lower())
                for a, b in re.findall(r"dataAreaId eq '((?:[^']|'')*)' and CustomerAccount eq '((?:[^']|'')*)'", flt)
            }
            value = [
                {"dataAreaId": r["dataAreaId"], "CustomerAccount": r["CustomerAccount"]}
                for k, r in self.rows.items()
                if k in wanted
            ]
            return httpx.Response(200, json={"value": value})
        return httpx.Response(404)

    def _batch(self, request: httpx.Request) -> httpx.Response:
        boundary = _boundary_of(request.headers["content-type"]) or ""
        out = []
        count = 0
        for part in _parts(request.content, boundary):
            headers, inner = _split_headers(part)
            sub = _boundary_of(headers["content-type"]) or ""
            responses = []
            snapshot = dict(self.rows)  # enough to roll back: apply() replaces rows, never changes one
            failed = None
            for op in _parts(inner, sub):
                _, http = _split_headers(op)
                line, _, rest = http.partition(b"\r\n")
                method, url, _ = line.decode().split(" ")
                _, body = _split_headers(rest)
                count += 1
                status, doc = self.apply(method, url, json.loads(body) if body.strip() else None)
                if status >= 400:
                    failed = (status, doc)
                    break
                responses.append((status, doc))
            if failed:
                self.rows = snapshot  # the change set rolls back
                out.append(_http_part(*failed))
            else:
                inner_b = "cs_" + str(len(out))
                parts = "".join(f"--{inner_b}\r\n{_http_part(s, d)}\r\n" for s, d in responses) + f"--{inner_b}--"
                out.append(f"Content-Type: multipart/mixed; boundary={inner_b}\r\n\r\n{parts}")
        self.batches.append(count)
        text = "".join(f"--resp\r\n{p}\r\n" for p in out) + "--resp--\r\n"
        return httpx.Response(200, content=text.encode(), headers={"Content-Type": "multipart/mixed; boundary=resp"})


def _http_part(status: int, doc: Any) -> str:
    body = json.dumps(doc) if doc is not None else ""
    return (
        f"Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
        f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n\r\n{body}"
    )


# ---- Kafka ------------------------------------------------------------------------------------------


class FakeMessage:
    def __init__(
        self,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> None:
        self._t, self._p, self._o, self._k, self._v, self._h = topic, partition, offset, key, value, headers

    def topic(self) -> str:
        return self._t

    def partition(self) -> int:
        return self._p

    def offset(self) -> int:
        return self._o

    def key(self) -> bytes | None:
        return self._k

    def value(self) -> bytes | None:
        return self._v

    def headers(self) -> list[tuple[str, bytes]] | None:
        return self._h

    def error(self) -> None:
        return None


class FakeProducer:
    """Records produced messages; acknowledges them on flush (or fails them when ``fail`` is set)."""

    def __init__(self) -> None:
        self.pending: list[tuple[FakeMessage, Any]] = []
        self.acked: list[FakeMessage] = []
        self.fail = False
        self.flushes = 0

    def produce(
        self,
        topic: str,
        key: bytes | None = None,
        value: bytes | None = None,
        headers: list[tuple[str, bytes]] | None = None,
        on_delivery: Any = None,
    ) -> None:
        self.pending.append(
            (FakeMessage(topic, 0, len(self.acked) + len(self.pending), key, value, headers), on_delivery)
        )

    def poll(self, _timeout: float = 0) -> int:
        return 0

    def flush(self, _timeout: float = 0) -> int:
        self.flushes += 1
        pending, self.pending = self.pending, []
        for msg, cb in pending:
            if self.fail:
                if cb:
                    cb(RuntimeError("broker down"), msg)
            else:
                self.acked.append(msg)
                if cb:
                    cb(None, msg)
        return 0

    def on(self, topic: str) -> list[FakeMessage]:
        return [m for m in self.acked if m.topic() == topic]


class JsonCodec:
    """Stands in for the Avro codec: JSON bytes."""

    def __init__(self, topic: str) -> None:
        self.topic = topic

    def serialize(self, value: dict[str, Any], key: str | None = None) -> bytes:
        if value.get("bad"):
            from p2c.errors import RecordError

            raise RecordError("does not fit", record_key=key)
        return json.dumps(value, default=str).encode()

    def deserialize(self, data: bytes, key: str | None = None) -> dict[str, Any]:
        from p2c.errors import RecordError

        try:
            doc: dict[str, Any] = json.loads(data)
        except ValueError as exc:
            raise RecordError("cannot be decoded", record_key=key) from exc
        return doc


class JsonCodecs:
    def __getitem__(self, topic: str) -> JsonCodec:
        return JsonCodec(topic)
