"""OffsetsReader over a fake consumer: where each read starts a partition, and what a read that no fetch
answered leaves for the next one."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from confluent_kafka import OFFSET_END, KafkaError, TopicPartition

from p2c import offsets
from p2c.settings import KafkaSettings


class Msg:
    def __init__(self, partition: int, error: int | None = None) -> None:
        self._partition, self._error = partition, error

    def topic(self) -> str:
        return "t"

    def partition(self) -> int:
        return self._partition

    def error(self) -> KafkaError | None:
        return None if self._error is None else KafkaError(self._error)


class FakeConsumer:
    """Partition 0 answers every fetch with EOF at ``fetched``; partition 1 answers only while ``answering``."""

    def __init__(self, conf: dict[str, Any]) -> None:
        self.conf = conf
        self.assigned: list[list[tuple[int, int]]] = []
        self.fetched = {0: 7, 1: 3}
        self.reported = {0: 7, 1: 9}  # what the broker says (ListOffsets) when asked
        self.answering = True
        self._queue: list[Msg] = []

    def list_topics(self, timeout: float) -> Any:
        return SimpleNamespace(topics={"t": SimpleNamespace(error=None, partitions={0: None, 1: None})})

    def assign(self, tps: list[TopicPartition]) -> None:
        self.assigned.append([(tp.partition, tp.offset) for tp in tps])
        answered = [tp.partition for tp in tps if tp.partition == 0 or self.answering]
        self._queue = [Msg(p, KafkaError._PARTITION_EOF) for p in answered]

    def poll(self, timeout: float) -> Msg | None:
        return self._queue.pop(0) if self._queue else None

    def get_watermark_offsets(self, tp: TopicPartition, timeout: float = 0, cached: bool = False) -> tuple[int, int]:
        return (0, self.fetched[tp.partition]) if cached else (0, self.reported[tp.partition])

    def unassign(self) -> None:
        pass

    def close(self) -> None:
        pass


@pytest.fixture
def consumer(monkeypatch: pytest.MonkeyPatch) -> list[FakeConsumer]:
    made: list[FakeConsumer] = []

    def make(conf: dict[str, Any]) -> FakeConsumer:
        made.append(FakeConsumer(conf))
        return made[-1]

    monkeypatch.setattr(offsets, "Consumer", make)
    return made


def test_each_read_starts_where_the_last_fetched_end_was(consumer: list[FakeConsumer]) -> None:
    reader = offsets.OffsetsReader(KafkaSettings(), timeout=0.3)
    assert reader.ends(["t", "missing"]) == {("t", 0): 7, ("t", 1): 3}
    fake = consumer[0]
    fake.fetched = {0: 8, 1: 3}
    assert reader.ends(["t"]) == {("t", 0): 8, ("t", 1): 3}
    assert fake.assigned == [[(0, OFFSET_END), (1, OFFSET_END)], [(0, 7), (1, 3)]]
    assert fake.conf["fetch.wait.max.ms"] == offsets.PROMPT_FETCH_WAIT_MS and fake.conf["fetch.max.bytes"] == 1000


def test_a_partition_no_fetch_answered_gets_the_reported_end_and_starts_from_the_end_next_time(
    consumer: list[FakeConsumer],
) -> None:
    reader = offsets.OffsetsReader(KafkaSettings(), timeout=0.3)
    reader.ends(["t"])
    fake = consumer[0]
    fake.answering = False
    assert reader.ends(["t"]) == {("t", 0): 7, ("t", 1): 9}  # the broker's report, after the timeout
    fake.answering = True
    reader.ends(["t"])
    assert fake.assigned[-1] == [(0, 7), (1, OFFSET_END)]  # not from 9: a reported end may be wrong either way
