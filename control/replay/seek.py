"""Where a replay starts in each partition: its beginning, an offset, or the first record at or after a time.

The first offset at or after a time is found by bisecting with fetches, not with ListOffsets by timestamp: the
embedded broker (Tansu) answers that one wrongly, and answers ListOffsets too low after a multi-record batch
(``p2c.offsets``). A fetch at an offset returns the record there (or the next one that exists) with its
timestamp, on Tansu as on Apache Kafka. Record timestamps in a partition are taken as non-decreasing (p2c's
producers stamp the time they send); the search costs about log2(records) fetches per partition.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from confluent_kafka import Consumer, KafkaError, TopicPartition

from p2c.errors import ConfigurationError

EARLIEST = "earliest"
#: (offset asked) -> (offset, timestamp in ms) of the first record at or after it, None when there is none
Fetch = Callable[[int], tuple[int, int] | None]


@dataclass(frozen=True)
class Start:
    """What ``--from`` says: ``earliest``, an offset (every partition's), or a time (ms since the epoch)."""

    earliest: bool = False
    offset: int | None = None
    time_ms: int | None = None

    @classmethod
    def parse(cls, text: str) -> Start:
        text = text.strip()
        if text.lower() == EARLIEST:
            return cls(earliest=True)
        if text.isdigit():
            return cls(offset=int(text))
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ConfigurationError(
                f"--from {text!r}: give earliest, an offset (digits) or a time (ISO 8601, e.g. 2026-12-01T04:00:00Z)"
            ) from None
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return cls(time_ms=int(moment.timestamp() * 1000))

    def __str__(self) -> str:
        if self.earliest:
            return EARLIEST
        if self.offset is not None:
            return str(self.offset)
        assert self.time_ms is not None
        return datetime.fromtimestamp(self.time_ms / 1000, UTC).isoformat().replace("+00:00", "Z")


def first_at_or_after(fetch: Fetch, low: int, high: int, time_ms: int) -> int:
    """The first offset in ``[low, high)`` whose record is at or after ``time_ms``; ``high`` when every record is
    before it. Where a fetch finds nothing, the search goes no further than there: better read a record again
    than miss one."""
    end = high
    while low < high:
        mid = (low + high) // 2
        found = fetch(mid)
        if found is None:  # nothing from mid on (the log ends before high): the answer is at most mid
            high = mid
        elif found[1] >= time_ms:
            high = mid  # the first one is at or before mid (records from mid to found[0] do not exist)
        else:
            low = found[0] + 1
    if low >= end:
        return end
    found = fetch(low)  # low may hold no record (compacted away, inside a batch): the one after it
    return low if found is None else min(found[0], end)  # none fetched: from low, rather than miss any


class Fetcher:
    """Fetches one record of one partition at an offset, with its timestamp (a consumer in no group)."""

    def __init__(self, consumer: Consumer, topic: str, partition: int, timeout: float = 10.0) -> None:
        self.consumer, self.topic, self.partition, self.timeout = consumer, topic, partition, timeout

    def __call__(self, offset: int) -> tuple[int, int] | None:
        self.consumer.assign([TopicPartition(self.topic, self.partition, offset)])
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            msg = self.consumer.poll(0.2)
            if msg is None:
                continue
            error = msg.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    return None
                continue
            if msg.topic() == self.topic and msg.partition() == self.partition and (msg.offset() or 0) >= offset:
                return int(msg.offset() or 0), int(msg.timestamp()[1])
        return None
