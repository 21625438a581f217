"""OData ``$batch``: many operations in one request, each change set an atomic unit of its own.

Request: ``multipart/mixed`` with one nested ``multipart/mixed`` change set per unit of work; each operation
is an ``application/http`` part with a ``Content-ID``. Response: one part per change set, either a nested
multipart with every operation's response, or a single ``application/http`` error response for a change set
that failed (and was rolled back). Each status goes through the error table, so one bad record fails alone.

``Prefer: odata.continue-on-error`` asks the service to go on after a failed change set; a change set with no
response at all (the service stopped early, as FinOps may) is reported unanswered, for the caller to send
again. When the whole request is rejected as bad (4xx without a multipart body), the change sets are bisected
until the bad one stands alone.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from p2c.connectors.core.errors import error_for
from p2c.connectors.core.http import ODataClient
from p2c.connectors.core.pace import Pace
from p2c.errors import P2CError, RecordError, RetriableError

log = logging.getLogger("p2c.connectors.batch")

CRLF = "\r\n"
MAX_OPERATIONS = 1000
#: OData's default limit of requests in one $batch (FinOps's, unless the environment says otherwise)
ODATA_DEFAULT_PARTS = 100


@dataclass(frozen=True)
class Operation:
    """One request inside a batch; ``path`` is relative to the service root."""

    method: str
    path: str
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class ChangeSet:
    """Operations that succeed or fail together; ``key`` names the record(s) in errors and results."""

    key: str
    operations: list[Operation]
    tag: Any = None


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body.strip() else None


@dataclass
class ChangeSetResult:
    changeset: ChangeSet
    responses: list[Response]
    error: P2CError | None = None
    #: False when the service stopped before this change set (FinOps stops at the first failed one)
    answered: bool = True

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def failure(self) -> Response | None:
        """The response that failed the change set, if it has one."""
        return next((r for r in self.responses if r.status >= 400), None)


# ---- building ---------------------------------------------------------------------------------------


def _operation_part(client: ODataClient, op: Operation, content_id: int) -> str:
    lines = [
        "Content-Type: application/http",
        "Content-Transfer-Encoding: binary",
        f"Content-ID: {content_id}",
        "",
        f"{op.method} {client.url(op.path)} HTTP/1.1",
        "Accept: application/json",
    ]
    body = ""
    if op.body is not None:
        lines.append("Content-Type: application/json; type=entry")
        body = json.dumps(op.body, separators=(",", ":"), default=str)
    lines.extend(f"{k}: {v}" for k, v in op.headers.items())
    return CRLF.join(lines) + CRLF + CRLF + body


def build_batch(client: ODataClient, changesets: Sequence[ChangeSet]) -> tuple[str, bytes]:
    """The boundary and body of a ``$batch`` request."""
    boundary = f"batch_{uuid.uuid4().hex}"
    out: list[str] = []
    content_id = 0
    for cs in changesets:
        cs_boundary = f"changeset_{uuid.uuid4().hex}"
        out.append(f"--{boundary}{CRLF}Content-Type: multipart/mixed; boundary={cs_boundary}{CRLF}{CRLF}")
        for op in cs.operations:
            content_id += 1
            out.append(f"--{cs_boundary}{CRLF}{_operation_part(client, op, content_id)}{CRLF}")
        out.append(f"--{cs_boundary}--{CRLF}")
    out.append(f"--{boundary}--{CRLF}")
    return boundary, "".join(out).encode("utf-8")


# ---- parsing ----------------------------------------------------------------------------------------


def _boundary_of(content_type: str) -> str | None:
    for piece in content_type.split(";"):
        name, _, value = piece.strip().partition("=")
        if name.lower() == "boundary":
            return value.strip().strip('"')
    return None


def _split_headers(block: bytes) -> tuple[dict[str, str], bytes]:
    head, sep, body = block.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = block.partition(b"\n\n")
    headers: dict[str, str] = {}
    for line in head.decode("utf-8", "replace").splitlines():
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    return headers, body


def _parts(body: bytes, boundary: str) -> list[bytes]:
    delimiter = b"--" + boundary.encode()
    parts = []
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        parts.append(chunk.strip(b"\r\n"))
    return parts


def _http_response(block: bytes) -> Response:
    status_line, _, rest = block.lstrip(b"\r\n").partition(b"\n")
    pieces = status_line.decode("utf-8", "replace").split()
    status = int(pieces[1]) if len(pieces) > 1 and pieces[1].isdigit() else 500
    headers, body = _split_headers(rest)
    return Response(status, headers, body.rstrip(b"\r\n"))


def parse_batch(body: bytes, content_type: str) -> list[list[Response]]:
    """Responses grouped per top-level part: one list per change set (or per standalone request)."""
    boundary = _boundary_of(content_type)
    if boundary is None:
        raise RetriableError(f"$batch response is not multipart: {content_type!r}")
    groups: list[list[Response]] = []
    for part in _parts(body, boundary):
        headers, inner = _split_headers(part)
        ctype = headers.get("content-type", "")
        if ctype.lower().startswith("multipart/"):
            sub = _boundary_of(ctype) or ""
            groups.append([_http_response(_split_headers(p)[1]) for p in _parts(inner, sub)])
        else:
            groups.append([_http_response(inner)])
    return groups


# ---- sending ----------------------------------------------------------------------------------------


class BatchWriter:
    """Sends change sets in ``$batch`` requests of at most ``max_operations`` operations.

    With a :class:`~p2c.connectors.core.pace.Pace` the batch size and the number of requests in flight start
    small, grow after every round the service took without a 429 and shrink after one that saw a 429 (the
    client's throttle holds every request until ``Retry-After`` has passed).
    """

    def __init__(
        self, client: ODataClient, max_operations: int = MAX_OPERATIONS, path: str = "$batch", pace: Pace | None = None
    ):
        if not 1 <= max_operations <= MAX_OPERATIONS:
            raise ValueError(f"max_operations must be 1..{MAX_OPERATIONS}")
        self.client = client
        self.max_operations = max_operations
        self.path = path
        self.pace = pace
        self.requests = 0

    def chunks(self, changesets: Sequence[ChangeSet], limit: int | None = None) -> list[list[ChangeSet]]:
        limit = limit or self.max_operations
        out: list[list[ChangeSet]] = []
        current: list[ChangeSet] = []
        size = 0
        for cs in changesets:
            n = len(cs.operations)
            if current and size + n > limit:
                out.append(current)
                current, size = [], 0
            current.append(cs)
            size += n
        if current:
            out.append(current)
        return out

    def send(self, changesets: Sequence[ChangeSet]) -> list[ChangeSetResult]:
        """One result per change set, in order. Raises RetriableError/ConfigurationError for the whole call."""
        if self.pace is None:
            return [r for chunk in self.chunks(changesets) for r in self._send_chunk(chunk)]
        results: list[ChangeSetResult] = []
        left = list(changesets)
        with ThreadPoolExecutor(max_workers=self.pace.max_concurrency, thread_name_prefix="batch") as pool:
            while left:  # one round: as many batches as the pace allows, in flight together
                chunks = self.chunks(left, min(self.max_operations, self.pace.size))[: self.pace.concurrency]
                throttled = self.client.throttle.throttled
                for done in pool.map(self._send_chunk, chunks):
                    results.extend(done)
                left = left[sum(len(c) for c in chunks) :]
                if self.client.throttle.throttled > throttled:
                    self.pace.shrink()
                else:
                    self.pace.grow()
        return results

    def _send_chunk(self, chunk: list[ChangeSet]) -> list[ChangeSetResult]:
        boundary, body = build_batch(self.client, chunk)
        try:
            self.requests += 1
            response = self.client.request(
                "POST",
                self.path,
                content=body,
                headers={
                    "Content-Type": f"multipart/mixed; boundary={boundary}",
                    "Prefer": "odata.continue-on-error",
                },
                what=f"$batch of {len(chunk)} change sets",
            )
        except RecordError as exc:
            if len(chunk) == 1:
                return [
                    ChangeSetResult(chunk[0], [], RecordError(exc.reason, record_key=chunk[0].key, field=exc.field))
                ]
            mid = len(chunk) // 2
            log.warning("$batch of %d change sets rejected as a whole (%s); bisecting", len(chunk), exc.reason)
            return self._send_chunk(chunk[:mid]) + self._send_chunk(chunk[mid:])
        groups = parse_batch(response.content, response.headers.get("content-type", ""))
        results = []
        for i, cs in enumerate(chunk):
            if i >= len(groups):
                unanswered = RetriableError(f"{cs.key}: no response in the $batch")
                results.append(ChangeSetResult(cs, [], unanswered, answered=False))
                continue
            error = None
            for r in groups[i]:
                error = error_for(r.status, r.body, r.headers, what=f"{cs.key}", record_key=cs.key)
                if error is not None:
                    break
            results.append(ChangeSetResult(cs, groups[i], error))
        return results
