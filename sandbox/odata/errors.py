"""OData error responses.

Both services answer errors with the OData JSON error body ``{"error": {"code": ..., "message": ...}}``.
Dataverse fills ``code`` with a hexadecimal error code (``0x80040217``); FinOps leaves it empty and adds an
``innererror``. Handlers raise :class:`ODataError`; the HTTP layer turns it into a response.

    ODataError
    └── (raised with the status and the service's own code and message)
"""

from __future__ import annotations

import json
from typing import Any


class ODataError(Exception):
    """An error the client sees as an OData error body with ``status``."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str = "",
        *,
        innererror: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.innererror = innererror
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.innererror is not None:
            error["innererror"] = self.innererror
        return {"error": error}

    def payload(self) -> bytes:
        return json.dumps(self.body()).encode()


# Dataverse error codes used by the CRM sandbox (names as in Dataverse's web service error codes).
OBJECT_DOES_NOT_EXIST = "0x80040217"
DUPLICATE_RECORD = "0x80040237"
CONCURRENCY_VERSION_MISMATCH = "0x80060882"
QUERY_NOT_SUPPORTED = "0x80060888"
INVALID_ARGUMENT = "0x80040203"
PAYLOAD_ERROR = "0x80048d19"
EXPIRED_VERSION_STAMP = "0x80044352"
STRING_TOO_LONG = "0x80044331"
REQUESTS_THROTTLED = "0x80072322"
BATCH_TOO_LARGE = "0x80060891"
