"""What to do with an HTTP status: a table, not a ladder of ifs.

    429, 5xx, connection errors  -> RetriableError (retry_after from ``Retry-After``)
    400, 404, 409, 412, 422      -> RecordError    (this record is rejected for good: dead-letter it)
    401, 403                     -> ConfigurationError (credentials or permissions: a person must act)

Statuses not in the table fall back by class: other 4xx fail the record, other 5xx retry.
"""

from __future__ import annotations

import email.utils
import enum
import json
import re
import time
from dataclasses import dataclass

import httpx

from p2c.errors import ConfigurationError, P2CError, RecordError, RetriableError


class Action(enum.Enum):
    OK = "ok"
    RETRY = "retry"
    FAIL_RECORD = "fail_record"
    CONFIG = "config"


@dataclass(frozen=True)
class Rule:
    action: Action
    hint: str


ERROR_TABLE: dict[int, Rule] = {
    400: Rule(Action.FAIL_RECORD, "the target rejected the record as invalid"),
    401: Rule(Action.CONFIG, "authentication failed: check the client id, client secret, tenant and token URL"),
    403: Rule(
        Action.CONFIG,
        "permission denied: give the integration's application user a security role that allows this",
    ),
    404: Rule(Action.FAIL_RECORD, "not found"),
    408: Rule(Action.RETRY, "request timeout"),
    409: Rule(Action.FAIL_RECORD, "conflict with the target's current state"),
    412: Rule(Action.FAIL_RECORD, "precondition failed: the row changed or already exists"),
    422: Rule(Action.FAIL_RECORD, "the target could not process the record"),
    429: Rule(Action.RETRY, "throttled by the target"),
}
DEFAULT_4XX = Rule(Action.FAIL_RECORD, "rejected by the target")
DEFAULT_5XX = Rule(Action.RETRY, "the target failed")


def rule_for(status: int) -> Rule:
    """The rule for ``status``; 1xx-3xx are OK."""
    if status < 400:
        return Rule(Action.OK, "")
    return ERROR_TABLE.get(status, DEFAULT_4XX if status < 500 else DEFAULT_5XX)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP date. None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def error_message(body: bytes | str) -> str:
    """The human part of an OData error body (``{"error": {"message": ...}}``), else the text, shortened."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        doc = json.loads(text)
    except ValueError:
        return text.strip()[:500]
    if isinstance(doc, dict) and isinstance(doc.get("error"), dict):
        err = doc["error"]
        inner = err.get("innererror") or {}
        msg = str(err.get("message") or err.get("code") or "")
        if isinstance(inner, dict) and inner.get("message") and inner["message"] != msg:
            msg = f"{msg} ({inner['message']})"
        return msg[:500]
    return text.strip()[:500]


def error_for(
    status: int,
    body: bytes | str = b"",
    headers: httpx.Headers | dict[str, str] | None = None,
    *,
    what: str = "request",
    record_key: str | None = None,
) -> P2CError | None:
    """The exception the table prescribes for a response, or None when the status is a success."""
    rule = rule_for(status)
    if rule.action is Action.OK:
        return None
    detail = error_message(body)
    message = f"{what}: HTTP {status}, {rule.hint}" + (f": {detail}" if detail else "")
    if rule.action is Action.RETRY:
        retry_after = parse_retry_after(httpx.Headers(headers or {}).get("Retry-After"))
        return RetriableError(message, retry_after=retry_after)
    if rule.action is Action.CONFIG:
        return ConfigurationError(message)
    return RecordError(f"HTTP {status}: {detail or rule.hint}", record_key=record_key, field=field_named(detail))


#: where a refusal names the field: FinOps's Infolog lines ``... (field 'CustomerGroupId').`` and Dataverse's
#: ``The length of the 'name' attribute of the 'product' entity exceeded ...``
_FIELD_NAMED = re.compile(r"\(field '(\w+)'\)|The length of the '(\w+)' attribute")


def field_named(detail: str) -> str | None:
    """The field a service's error message names, when it names one."""
    match = _FIELD_NAMED.search(detail)
    return None if match is None else next(g for g in match.groups() if g)


def raise_for(response: httpx.Response, *, what: str = "request", record_key: str | None = None) -> None:
    """Raise what the table says for ``response``; return when it succeeded."""
    exc = error_for(response.status_code, response.content, response.headers, what=what, record_key=record_key)
    if exc is not None:
        raise exc


def transport_error(exc: httpx.TransportError, what: str) -> RetriableError:
    """Connection refused, reset, timed out: always worth another try."""
    return RetriableError(f"{what}: {type(exc).__name__}: {exc}")
