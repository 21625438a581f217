"""OData ``$batch`` in the multipart/mixed format: parse requests, write responses.

A batch holds requests and change sets; a change set holds requests that succeed or fail together. The
executor (:mod:`sandbox.odata.service`) runs a change set in one SQLite transaction.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field

from p2c.sandbox.odata.errors import ODataError

_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)
_REQUEST_LINE = re.compile(r"^(GET|POST|PATCH|PUT|DELETE)\s+(\S+)(?:\s+HTTP/\d\.\d)?$", re.IGNORECASE)


@dataclass
class Part:
    """One request inside a batch."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    content_id: str | None = None


@dataclass
class ChangeSet:
    parts: list[Part] = field(default_factory=list)


@dataclass
class PartResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    content_id: str | None = None


def boundary_of(content_type: str) -> str:
    m = _BOUNDARY.search(content_type or "")
    if not m or not content_type.lower().startswith("multipart/mixed"):
        raise ODataError(400, "The batch request must have a multipart/mixed content type with a boundary.")
    return m.group(1)


def _split(body: bytes, boundary: str) -> list[bytes]:
    """The parts between ``--boundary`` lines, without the closing delimiter."""
    delimiter = b"--" + boundary.encode()
    chunks = body.split(delimiter)
    if len(chunks) < 2:
        raise ODataError(400, f"The batch body has no part delimited by '--{boundary}'.")
    parts = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break
        parts.append(chunk.removeprefix(b"\r\n").removeprefix(b"\n"))
    return parts


def _headers_and_rest(chunk: bytes) -> tuple[dict[str, str], bytes]:
    text_end = re.search(rb"\r?\n\r?\n", chunk)
    if text_end is None:
        head, rest = chunk, b""
    else:
        head, rest = chunk[: text_end.start()], chunk[text_end.end() :]
    headers: dict[str, str] = {}
    for line in head.decode("utf-8", "replace").splitlines():
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return headers, rest


def _strip_trailing_newline(body: bytes) -> bytes:
    if body.endswith(b"\r\n"):
        return body[:-2]
    if body.endswith(b"\n"):
        return body[:-1]
    return body


def _part(chunk: bytes) -> Part:
    mime, http = _headers_and_rest(chunk)
    if "application/http" not in mime.get("content-type", "application/http").lower():
        raise ODataError(400, f"Unexpected batch part content type '{mime.get('content-type')}'.")
    http = http.lstrip(b"\r\n")
    line_end = http.find(b"\n")
    first = (http if line_end < 0 else http[:line_end]).decode().strip()
    m = _REQUEST_LINE.match(first)
    if not m:
        raise ODataError(400, f"Invalid request line in batch part: '{first}'.")
    headers, body = _headers_and_rest(b"" if line_end < 0 else http[line_end + 1 :])
    if line_end >= 0 and re.match(rb"\r?\n", http[line_end + 1 :]):
        headers, body = {}, http[line_end + 1 :].lstrip(b"\r\n")
    return Part(m.group(1).upper(), m.group(2), headers, _strip_trailing_newline(body), mime.get("content-id"))


def parse_batch(body: bytes, content_type: str) -> list[Part | ChangeSet]:
    items: list[Part | ChangeSet] = []
    for chunk in _split(body, boundary_of(content_type)):
        mime, rest = _headers_and_rest(chunk)
        ctype = mime.get("content-type", "")
        if ctype.lower().startswith("multipart/mixed"):
            changeset = ChangeSet([_part(c) for c in _split(rest, boundary_of(ctype))])
            for p in changeset.parts:
                if p.method == "GET":
                    raise ODataError(400, "A change set cannot contain a GET request.")
            items.append(changeset)
        else:
            items.append(_part(chunk))
    return items


def count_requests(items: list[Part | ChangeSet]) -> int:
    return sum(len(i.parts) if isinstance(i, ChangeSet) else 1 for i in items)


_REASONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
    304: "Not Modified",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    412: "Precondition Failed",
    429: "Too Many Requests",
    500: "Internal Server Error",
}


def _write_part(out: list[bytes], r: PartResponse) -> None:
    out.append(b"Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n")
    if r.content_id is not None:
        out.append(f"Content-ID: {r.content_id}\r\n".encode())
    out.append(f"\r\nHTTP/1.1 {r.status} {_REASONS.get(r.status, 'Unknown')}\r\n".encode())
    for name, value in r.headers.items():
        out.append(f"{name}: {value}\r\n".encode())
    out.append(b"\r\n" + r.body + b"\r\n")


def write_batch(items: list[PartResponse | list[PartResponse]], boundary: str | None = None) -> tuple[bytes, str]:
    """(body, content type) of a batch response; a list is a change set response."""
    boundary = boundary or f"batchresponse_{uuid.uuid4()}"
    out: list[bytes] = []
    for item in items:
        out.append(f"--{boundary}\r\n".encode())
        if isinstance(item, list):
            inner = f"changesetresponse_{uuid.uuid4()}"
            out.append(f"Content-Type: multipart/mixed; boundary={inner}\r\n\r\n".encode())
            for r in item:
                out.append(f"--{inner}\r\n".encode())
                _write_part(out, r)
            out.append(f"--{inner}--\r\n".encode())
        else:
            _write_part(out, item)
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out), f"multipart/mixed; boundary={boundary}"
