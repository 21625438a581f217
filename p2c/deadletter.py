"""The dead-letter contract: what a record that could not be processed looks like on ``p2c.dlq.<flow>``.

The value is the original message's bytes, untouched (the Confluent wire format names its schema id, so a
dead letter stays decodable); the key is the original key, and the original headers are kept. Headers say why
and where from, under Kafka Connect's dead-letter header names (so tools made for Connect's DLQs read them)::

    __connect.errors.exception.message     what went wrong, for a person to read ("field 'address1_country': ...")
    __connect.errors.exception.class.name  the kind of error (RecordError, RetriableError: kept failing, ...)
    __connect.errors.stage                 source | streams | sink: where it failed, where a retry sends it
    __connect.errors.connector.name        the component that dead-lettered it (streams.quotes, erp.customers)
    __connect.errors.topic                 the topic, partition and offset it was read from: a retry sends it
    __connect.errors.partition             back there
    __connect.errors.offset
    p2c.error.field                        the field at fault, when known (Connect has no such header)
    p2c.error.time                         when it was dead-lettered, ISO 8601 UTC

Letters written before these names (``p2c.error.reason``, ``p2c.error.stage``, ``p2c.origin.*``) still read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from p2c.topics import dead_letter

REASON = "__connect.errors.exception.message"
ERROR_CLASS = "__connect.errors.exception.class.name"
STAGE = "__connect.errors.stage"
COMPONENT = "__connect.errors.connector.name"
ORIGIN_TOPIC = "__connect.errors.topic"
ORIGIN_PARTITION = "__connect.errors.partition"
ORIGIN_OFFSET = "__connect.errors.offset"
FIELD = "p2c.error.field"
TIME = "p2c.error.time"
#: the names of the first letters, read as the ones above
OLD_NAMES = {
    "p2c.error.reason": REASON,
    "p2c.error.stage": STAGE,
    "p2c.origin.topic": ORIGIN_TOPIC,
    "p2c.origin.partition": ORIGIN_PARTITION,
    "p2c.origin.offset": ORIGIN_OFFSET,
}
OWN = {REASON, ERROR_CLASS, STAGE, COMPONENT, ORIGIN_TOPIC, ORIGIN_PARTITION, ORIGIN_OFFSET, FIELD, TIME, *OLD_NAMES}


@dataclass(frozen=True)
class DeadLetter:
    """A record on its way to (or read back from) a dead-letter topic."""

    flow: str
    stage: str
    reason: str
    key: bytes | None
    value: bytes | None
    origin_topic: str
    origin_partition: int
    origin_offset: int
    field: str | None = None
    time: str = ""
    error_class: str = "RecordError"
    component: str = ""
    original_headers: tuple[tuple[str, bytes], ...] = ()

    @property
    def topic(self) -> str:
        return dead_letter(self.flow).name

    @classmethod
    def from_error(
        cls,
        error: Exception,
        *,
        flow: str,
        stage: str,
        key: bytes | None,
        value: bytes | None,
        topic: str,
        partition: int,
        offset: int,
        component: str = "",
        headers: list[tuple[str, bytes]] | None = None,
    ) -> DeadLetter:
        """A letter for ``error``; an error that is not a RecordError is one that kept failing (its class kept)."""
        return cls(
            flow=flow,
            stage=stage,
            reason=str(error) or type(error).__name__,
            key=key,
            value=value,
            origin_topic=topic,
            origin_partition=partition,
            origin_offset=offset,
            field=getattr(error, "field", None),
            time=datetime.now(UTC).isoformat(timespec="milliseconds"),
            error_class=type(error).__name__,
            component=component or flow,
            original_headers=tuple((k, v) for k, v in headers or [] if k not in OWN),
        )

    def headers(self) -> list[tuple[str, bytes]]:
        """The original message's headers, then the letter's own."""
        headers = [
            *self.original_headers,
            (REASON, self.reason.encode()),
            (ERROR_CLASS, self.error_class.encode()),
            (COMPONENT, self.component.encode()),
            (STAGE, self.stage.encode()),
            (TIME, self.time.encode()),
            (ORIGIN_TOPIC, self.origin_topic.encode()),
            (ORIGIN_PARTITION, str(self.origin_partition).encode()),
            (ORIGIN_OFFSET, str(self.origin_offset).encode()),
        ]
        if self.field:
            headers.append((FIELD, self.field.encode()))
        return headers

    @classmethod
    def from_message(
        cls, flow: str, key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]] | None
    ) -> DeadLetter:
        h = {OLD_NAMES.get(k, k): v.decode("utf-8", "replace") for k, v in (headers or []) if v is not None}
        return cls(
            flow=flow,
            stage=h.get(STAGE, "?"),
            reason=h.get(REASON, "?"),
            key=key,
            value=value,
            origin_topic=h.get(ORIGIN_TOPIC, ""),
            origin_partition=int(h.get(ORIGIN_PARTITION, "-1")),
            origin_offset=int(h.get(ORIGIN_OFFSET, "-1")),
            field=h.get(FIELD),
            time=h.get(TIME, ""),
            error_class=h.get(ERROR_CLASS, "RecordError"),
            component=h.get(COMPONENT, ""),
            original_headers=tuple((k, v) for k, v in headers or [] if k not in OWN and v is not None),
        )
