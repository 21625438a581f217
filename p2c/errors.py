"""The one exception tree of p2c.

    P2CError
    ├── ConfigurationError   a setting is missing or wrong; fix the configuration and start again
    ├── RetriableError       try again later (carries ``retry_after`` seconds when the other side said so)
    └── RecordError          this record can never be processed as it is: dead-letter it and go on

Every layer raises one of these (``raise ... from exc``), so a caller decides what to do by type alone.

A command that ends with one prints its message on one line (no traceback) and exits with its
``exit_code``, the same in every command:

    0  done
    1  done, and the answer is no: a check failed, a record was rejected, differences were found
    2  a usage or configuration error (click's own usage errors exit 2 as well)
    3  a system p2c needs did not answer: Kafka, the schema registry, a tenant; start it or fix its address
"""

from __future__ import annotations

EXIT_NO = 1
EXIT_CONFIGURATION = 2
EXIT_UNREACHABLE = 3


class P2CError(Exception):
    """Root of every error p2c raises on purpose."""

    exit_code = EXIT_NO


class ConfigurationError(P2CError):
    """A setting is missing or invalid. The message names the setting and how to fix it."""

    exit_code = EXIT_CONFIGURATION


class RetriableError(P2CError):
    """A transient failure (429, 5xx, connection error). ``retry_after`` is in seconds, when known."""

    exit_code = EXIT_UNREACHABLE

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RecordError(P2CError):
    """A record that cannot be processed as it is. Names the record and, when known, the field."""

    def __init__(self, reason: str, *, record_key: str | None = None, field: str | None = None) -> None:
        self.reason = reason
        self.record_key = record_key
        self.field = field
        where = []
        if record_key is not None:
            where.append(f"record {record_key!r}")
        if field is not None:
            where.append(f"field {field!r}")
        super().__init__(f"{', '.join(where)}: {reason}" if where else reason)
