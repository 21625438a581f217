"""The sink contract: one method, ``write(batch)``.

``write`` receives decoded records and either returns (every record written, except those it reports
rejected for good) or raises:

    RetriableError(retry_after)   back-pressure: nothing is committed, the runner retries the same batch
    HeldBack(retry_after)         a RetriableError for part of the batch: ``done`` says what happened to the
                                  rest, ``held`` are records waiting for a dependency (a customer written by
                                  another sink); the runner commits what lies before the first held record
                                  of each partition and retries from there
    ConfigurationError            a person must act: the runner stops

A record the target rejects for good is reported in the returned ``WriteResult.rejected`` with its
RecordError; the runner dead-letters it and commits the rest.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from p2c.errors import RecordError, RetriableError


@dataclass(frozen=True)
class SinkRecord:
    """One message of a target topic, decoded."""

    topic: str
    partition: int
    offset: int
    key: str | None
    value: dict[str, Any]
    raw_key: bytes | None = None
    raw_value: bytes | None = None


#: the rules a sink skips a record by (``p2c status`` counts each skipped record under its rule)
NOT_NEWER = "not newer than the version already applied"
SUPERSEDED = "superseded by a newer record of the same key in the batch"


@dataclass
class WriteResult:
    written: list[SinkRecord] = field(default_factory=list)
    #: already in the target at this or a newer version, or superseded by a newer record of the batch
    skipped: list[SinkRecord] = field(default_factory=list)
    rejected: list[tuple[SinkRecord, RecordError]] = field(default_factory=list)
    #: why each skipped record was skipped, by (topic, partition, offset)
    rules: dict[tuple[str, int, int], str] = field(default_factory=dict)

    def skip(self, records: Iterable[SinkRecord], rule: str) -> None:
        """Skip ``records`` under ``rule`` (counted as ``skipped:<rule>``, shown by ``p2c status``)."""
        for record in records:
            self.skipped.append(record)
            self.rules[(record.topic, record.partition, record.offset)] = rule

    def rule_of(self, record: SinkRecord) -> str:
        return self.rules.get((record.topic, record.partition, record.offset), "no rule recorded")

    def merge(self, other: WriteResult) -> None:
        self.written.extend(other.written)
        self.skipped.extend(other.skipped)
        self.rejected.extend(other.rejected)
        self.rules.update(other.rules)


class HeldBack(RetriableError):
    """Some records of the batch wait for a dependency; the others were handled as ``done`` says."""

    def __init__(self, message: str, retry_after: float | None, done: WriteResult, held: list[SinkRecord]) -> None:
        super().__init__(message, retry_after)
        self.done = done
        self.held = held


class Sink(ABC):
    #: the flow(s) it serves, for dead-letter topics and logs
    name: str = "sink"

    @abstractmethod
    def write(self, batch: Sequence[SinkRecord]) -> WriteResult:
        """Write ``batch`` to the target; see the module docstring for the outcomes."""

    def topics(self) -> list[str]:
        return []

    def flow_of(self, record: SinkRecord) -> str:
        """The flow whose dead-letter topic a rejected ``record`` goes to."""
        return self.name

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release HTTP clients and the like."""
