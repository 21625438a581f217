"""Confluent Schema Registry error codes, in one enum, and the one exception the core raises.

The HTTP status of an error is the first three digits of its code (``40401`` is a 404), except the few codes
that are plain HTTP statuses already (``409`` for an incompatible schema, as Confluent answers it).

    P2CError
    └── RegistryError   carries an ErrorCode and a message; the HTTP layer turns it into a JSON error body
"""

from __future__ import annotations

from enum import IntEnum, unique

from p2c.errors import P2CError


@unique
class ErrorCode(IntEnum):
    """Confluent's ``error_code`` values (and the HTTP statuses used as codes when there is no finer one)."""

    BAD_REQUEST = 400
    NOT_FOUND = 404
    METHOD_NOT_ALLOWED = 405
    INCOMPATIBLE_SCHEMA = 409
    UNSUPPORTED_MEDIA_TYPE = 415
    UNPROCESSABLE_ENTITY = 422
    INTERNAL_SERVER_ERROR = 500
    SUBJECT_NOT_FOUND = 40401
    VERSION_NOT_FOUND = 40402
    SCHEMA_NOT_FOUND = 40403
    SUBJECT_SOFT_DELETED = 40404
    SUBJECT_NOT_SOFT_DELETED = 40405
    SCHEMAVERSION_SOFT_DELETED = 40406
    SCHEMAVERSION_NOT_SOFT_DELETED = 40407
    SUBJECT_COMPATIBILITY_NOT_CONFIGURED = 40408
    SUBJECT_MODE_NOT_CONFIGURED = 40409
    INVALID_SCHEMA = 42201
    INVALID_VERSION = 42202
    INVALID_COMPATIBILITY_LEVEL = 42203
    INVALID_MODE = 42204
    OPERATION_NOT_PERMITTED = 42205
    REFERENCE_EXISTS = 42206
    INVALID_SUBJECT = 42208
    STORE_ERROR = 50001
    OPERATION_TIMEOUT = 50002
    FORWARDING_ERROR = 50003

    @property
    def http_status(self) -> int:
        return int(str(self.value)[:3])


class RegistryError(P2CError):
    """A request the registry refuses: the code and message go back to the client as they are."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def body(self) -> dict[str, object]:
        return {"error_code": int(self.code), "message": self.message}
