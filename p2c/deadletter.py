"""The dead-letter contract: what a record that could not be processed looks like on ``p2c.dlq.<flow>``.

The value is the original message's bytes, untouched (the Confluent wire format names its schema id, so a
dead letter stays decodable); the key is the original key. Headers say why and where from::

    p2c.error.reason     what went wrong, for a person to read ("field 'address1_country': ...")
    p2c.error.field      the field at fault, when known
    p2c.error.stage      source | streams | sink
    p2c.error.time       when it was dead-lettered, ISO 8601 UTC
    p2c.origin.topic     the topic, partition and offset it was read from: `p2c dlq retry` sends it back there
    p2c.origin.partition
    p2c.origin.offset
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from p2c.errors import RecordError
from p2c.topics import dead_letter

REASON = "p2c.error.reason"
FIELD = "p2c.error.field"
STAGE = "p2c.error.stage"
TIME = "p2c.error.time"
ORIGIN_TOPIC = "p2c.origin.topic"
ORIGIN_PARTITION = "p2c.origin.partition"
ORIGIN_OFFSET = "p2c.origin.offset"


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

    @property
    def topic(self) -> str:
        return dead_letter(self.flow).name

    @classmethod
    def from_error(
        cls,
        error: RecordError,
        *,
        flow: str,
        stage: str,
        key: bytes | None,
        value: bytes | None,
        topic: str,
        partition: int,
        offset: int,
    ) -> DeadLetter:
        return cls(
            flow=flow,
            stage=stage,
            reason=str(error),
            key=key,
            value=value,
            origin_topic=topic,
            origin_partition=partition,
            origin_offset=offset,
            field=error.field,
            time=datetime.now(UTC).isoformat(timespec="milliseconds"),
        )

    def headers(self) -> list[tuple[str, bytes]]:
        headers = [
            (REASON, self.reason.encode()),
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
        h = {k: v.decode("utf-8", "replace") for k, v in (headers or []) if v is not None}
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
        )
