"""read_latest over a fake consumer: a transient client error is not the end of the read."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from p2c import keyed_log
from p2c.errors import RetriableError
from p2c.settings import KafkaSettings


class Msg:
    def __init__(self, key: bytes = b"", value: bytes | None = None, error: KafkaError | None = None) -> None:
        self._key, self._value, self._error = key, value, error

    def key(self) -> bytes:
        return self._key

    def value(self) -> bytes | None:
        return self._value

    def error(self) -> KafkaError | None:
        return self._error

    def partition(self) -> int:
        return 0


EOF_ = Msg(error=KafkaError(KafkaError._PARTITION_EOF))


def fake_consumer(batches: list[list[Msg]]) -> type:
    class Consumer:
        def __init__(self, conf: dict[str, Any]) -> None:
            self.batches = list(batches)

        def assign(self, tps: Any) -> None:
            pass

        def consume(self, n: int, timeout: float) -> list[Msg]:
            return self.batches.pop(0) if self.batches else []

        def close(self) -> None:
            pass

    return Consumer


@pytest.fixture(autouse=True)
def one_partition(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keyed_log, "partitions", lambda consumer, topic, timeout: [0])


def test_a_dropped_connection_midway_does_not_end_the_read(monkeypatch: pytest.MonkeyPatch) -> None:
    transient = Msg(error=KafkaError(KafkaError._TRANSPORT, "Disconnected"))
    batches = [[Msg(b"a", b"1")], [transient], [Msg(b"a", b"2"), Msg(b"b", b"3"), EOF_]]
    monkeypatch.setattr(keyed_log, "Consumer", fake_consumer(batches))
    assert keyed_log.read_latest(KafkaSettings(), "t") == {b"a": b"2", b"b": b"3"}


def test_a_fatal_error_ends_it(monkeypatch: pytest.MonkeyPatch) -> None:
    fatal = Msg(error=KafkaError(KafkaError._FENCED, "fenced", fatal=True))
    monkeypatch.setattr(keyed_log, "Consumer", fake_consumer([[fatal]]))
    with pytest.raises(KafkaException):
        keyed_log.read_latest(KafkaSettings(), "t")


def test_an_error_that_persists_ends_in_a_timeout_that_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    transient = Msg(error=KafkaError(KafkaError._TRANSPORT, "Disconnected"))
    monkeypatch.setattr(keyed_log, "Consumer", fake_consumer([[transient]] * 1000))
    with pytest.raises(RetriableError, match="Disconnected"):
        keyed_log.read_latest(KafkaSettings(), "t", timeout=0.05)
