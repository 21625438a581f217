"""Source and sink runners with in-memory Kafka fakes: positions after acks, DLQ routing, commits after
writes, retrying the same batch, rebalances, metrics, settings."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from confluent_kafka import TopicPartition

from p2c import deadletter
from p2c.connectors.base.sink import HeldBack, Sink, SinkRecord, WriteResult
from p2c.connectors.base.source import ChangeEvent, Checkpoint, Position, Rejected, Source, SourceItem
from p2c.connectors.core.metrics import Reporter
from p2c.connectors.core.sink_runner import SinkRunner
from p2c.connectors.core.source_runner import SourceRunner, run_forever
from p2c.connectors.dataverse.settings import CrmSourceSettings
from p2c.connectors.finops.settings import ErpSinkSettings
from p2c.errors import ConfigurationError, RecordError, RetriableError
from p2c.failures import ErrorPolicy
from p2c.metrics import Counters
from p2c.settings import load

from .fakes import FakeMessage, FakeProducer, JsonCodecs

pytestmark = pytest.mark.timeout(10)


class MemoryStore:
    def __init__(self) -> None:
        self.saved: dict[str, Position] = {}
        self.acked_before_save: list[int] = []

    def load(self, name: str) -> Position | None:
        return self.saved.get(name)

    def save(self, producer: FakeProducer, name: str, position: Position) -> None:
        assert not producer.pending, "position stored before every event was acknowledged"
        self.acked_before_save.append(len(producer.acked))
        self.saved[name] = position


class ScriptedSource(Source):
    name = "crm"

    def __init__(self, items: list[SourceItem]) -> None:
        super().__init__()
        self.items = items
        self.started_from: Position | None = None

    def changes(self, position: Position | None) -> Iterator[SourceItem]:
        self.started_from = position
        yield from self.items


def ev(key: str, **extra: Any) -> ChangeEvent:
    return ChangeEvent("p2c.src.crm.accounts", key, {"op": "r", "k": key, **extra}, "accounts")


def test_source_runner_stores_the_position_only_after_acks_and_dead_letters_bad_rows() -> None:
    producer, store, counters = FakeProducer(), MemoryStore(), Counters()
    src = ScriptedSource(
        [
            ev("a"),
            ev("b"),
            Checkpoint({"p": 1}),
            ev("c", bad=True),
            Rejected("accounts", "p2c.src.crm.accounts", "d", b'{"raw": 1}', "no good", "name"),
            Checkpoint({"p": 2}),
        ]
    )
    SourceRunner(src, producer, JsonCodecs(), store, metrics=counters).run()  # type: ignore[arg-type]
    assert store.saved == {"crm": {"p": 2}} and store.acked_before_save == [2, 4]
    assert [m.key() for m in producer.on("p2c.src.crm.accounts")] == [b"a", b"b"]
    dlq = producer.on("p2c.dlq.accounts")
    assert [m.key() for m in dlq] == [b"c", b"d"]
    headers = dict(dlq[1].headers() or [])
    assert headers[deadletter.REASON].endswith(b"no good") and headers[deadletter.STAGE] == b"source"
    assert headers[deadletter.FIELD] == b"name" and dlq[1].value() == b'{"raw": 1}'
    assert counters.get("accounts", "in") == 2 and counters.get("accounts", "dead_lettered") == 2


def test_source_runner_does_not_store_a_position_the_broker_did_not_ack() -> None:
    producer, store = FakeProducer(), MemoryStore()
    producer.fail = True
    src = ScriptedSource([ev("a"), Checkpoint({"p": 1})])
    with pytest.raises(RetriableError, match="not stored"):
        SourceRunner(src, producer, JsonCodecs(), store).run()  # type: ignore[arg-type]
    assert store.saved == {}


class RefusedOnceSource(ScriptedSource):
    """Its first query is refused (a 4xx: the service rejects the query itself), the next one works."""

    def __init__(self, items: list[SourceItem]) -> None:
        super().__init__(items)
        self.runs = 0

    def changes(self, position: Position | None) -> Iterator[SourceItem]:
        self.runs += 1
        if self.runs == 1:
            raise RecordError("HTTP 400: Could not find a property named 'nmae'")
        yield from super().changes(position)


def test_a_refused_source_query_is_retried_in_the_process_not_crash_looped() -> None:
    producer, store = FakeProducer(), MemoryStore()
    src = RefusedOnceSource([ev("a"), Checkpoint({"p": 1})])
    run_forever(SourceRunner(src, producer, JsonCodecs(), store), max_backoff=0.01)  # type: ignore[arg-type]
    assert src.runs == 2 and store.saved == {"crm": {"p": 1}}
    with pytest.raises(ConfigurationError):  # a person's mistake still ends the process, with its message
        run_forever(SourceRunner(MisconfiguredSource([]), producer, JsonCodecs(), store))  # type: ignore[arg-type]


class MisconfiguredSource(ScriptedSource):
    def changes(self, position: Position | None) -> Iterator[SourceItem]:
        raise ConfigurationError("P2C_CRM_CLIENT_SECRET is wrong")
        yield from ()


def test_source_runner_resumes_from_the_stored_position() -> None:
    store = MemoryStore()
    store.saved["crm"] = {"p": 7}
    src = ScriptedSource([])
    SourceRunner(src, FakeProducer(), JsonCodecs(), store).run()  # type: ignore[arg-type]
    assert src.started_from == {"p": 7}


# ---- sink runner ------------------------------------------------------------------------------------


class FakeConsumer:
    def __init__(self, messages: list[FakeMessage]) -> None:
        self.messages = messages
        self.commits: list[list[tuple[str, int, int]]] = []
        self.on_revoke: Any = None

    def subscribe(self, topics: list[str], **callbacks: Any) -> None:
        self.on_revoke = callbacks["on_revoke"]

    def consume(self, num: int, timeout: float) -> list[FakeMessage]:
        out, self.messages = self.messages[:num], self.messages[num:]
        return out

    def poll(self, timeout: float) -> FakeMessage | None:
        out = self.consume(1, timeout)
        return out[0] if out else None

    def commit(self, offsets: list[TopicPartition], asynchronous: bool) -> None:
        assert asynchronous is False
        self.commits.append(sorted((tp.topic, tp.partition, tp.offset) for tp in offsets))

    def close(self) -> None:
        pass


class RecordingSink(Sink):
    name = "erp.customers"

    def __init__(self, fail_times: int = 0, reject: Sequence[str] = ()) -> None:
        self.fail_times = fail_times
        self.reject = set(reject)
        self.calls: list[list[str | None]] = []
        self.written: list[str | None] = []

    def topics(self) -> list[str]:
        return ["p2c.tgt.erp.customers"]

    def flow_of(self, record: SinkRecord) -> str:
        return str(record.value.get("flow", "accounts"))

    def write(self, batch: Sequence[SinkRecord]) -> WriteResult:
        self.calls.append([r.key for r in batch])
        if self.fail_times:
            self.fail_times -= 1
            raise RetriableError("429", retry_after=0.0)
        result = WriteResult()
        for r in batch:
            if r.key in self.reject:
                result.rejected.append(
                    (r, RecordError("HTTP 400: bad group", record_key=r.key, field="CustomerGroupId"))
                )
            else:
                result.written.append(r)
                self.written.append(r.key)
        return result


def msg(partition: int, offset: int, key: str, value: bytes | None = None, flow: str = "accounts") -> FakeMessage:
    return FakeMessage(
        "p2c.tgt.erp.customers",
        partition,
        offset,
        key.encode(),
        value if value is not None else json.dumps({"k": key, "flow": flow}).encode(),
    )


def runner(sink: RecordingSink, consumer: FakeConsumer, producer: FakeProducer, counters: Counters) -> SinkRunner:
    return SinkRunner(
        sink,
        consumer,  # type: ignore[arg-type]  # fakes of confluent-kafka's classes
        producer,  # type: ignore[arg-type]
        JsonCodecs(),  # type: ignore[arg-type]
        batch_size=3,
        batch_ms=10,
        metrics=counters,
    )


def test_sink_runner_commits_after_write_and_dead_letters_rejects_and_undecodable() -> None:
    consumer = FakeConsumer([msg(0, 0, "a"), msg(1, 0, "b", flow="contacts"), msg(0, 1, "c", value=b"\x00junk")])
    producer, counters = FakeProducer(), Counters()
    snk = RecordingSink(reject=["b"])
    r = runner(snk, consumer, producer, counters)
    r.subscribe()
    assert r.step() == 3
    assert snk.written == ["a"]
    assert consumer.commits == [[("p2c.tgt.erp.customers", 0, 2), ("p2c.tgt.erp.customers", 1, 1)]]
    assert sorted(m.topic() for m in producer.acked) == ["p2c.dlq.accounts", "p2c.dlq.contacts"]
    letters = {m.key(): dict(m.headers() or []) for m in producer.acked}
    assert b"bad group" in letters[b"b"][deadletter.REASON] and letters[b"b"][deadletter.FIELD] == b"CustomerGroupId"
    assert letters[b"b"][deadletter.ORIGIN_PARTITION] == b"1" and letters[b"c"][deadletter.STAGE] == b"sink"
    assert counters.get("accounts", "written") == 1 and counters.get("contacts", "dead_lettered") == 1
    assert counters.get("accounts", "dead_lettered") == 1


def test_sink_runner_retries_the_same_batch_and_never_skips() -> None:
    consumer = FakeConsumer([msg(0, 0, "a"), msg(0, 1, "b")])
    snk = RecordingSink(fail_times=2)
    counters = Counters()
    r = runner(snk, consumer, FakeProducer(), counters)
    r.subscribe()
    r.step()
    assert snk.calls == [["a", "b"]] * 3 and snk.written == ["a", "b"]
    assert consumer.commits == [[("p2c.tgt.erp.customers", 0, 2)]]
    assert counters.get("accounts", "retried") == 2  # counted per flow, like every other counter


class PoisonSink(RecordingSink):
    """A target that answers 500 to any batch holding ``poison``, forever."""

    def __init__(self, poison: str) -> None:
        super().__init__()
        self.poison = poison

    def write(self, batch: Sequence[SinkRecord]) -> WriteResult:
        if any(r.key == self.poison for r in batch):
            self.calls.append([r.key for r in batch])
            raise RetriableError("HTTP 500: internal error")
        return super().write(batch)


def test_a_record_the_target_fails_forever_is_dead_lettered_and_the_rest_written() -> None:
    consumer = FakeConsumer([msg(0, 0, "a"), msg(0, 1, "poison"), msg(0, 2, "c")])
    producer, counters = FakeProducer(), Counters()
    snk = PoisonSink("poison")
    r = SinkRunner(
        snk,
        consumer,  # type: ignore[arg-type]
        producer,  # type: ignore[arg-type]
        JsonCodecs(),  # type: ignore[arg-type]
        batch_size=3,
        batch_ms=10,
        metrics=counters,
        max_backoff=0.01,
        policy=ErrorPolicy(retriable_budget=0.05),
        split_budget=0.02,
    )
    r.subscribe()
    assert r.step() == 3
    assert sorted(str(k) for k in snk.written) == ["a", "c"]
    [letter] = producer.acked
    headers = dict(letter.headers() or [])
    assert letter.key() == b"poison" and b"kept failing" in headers[deadletter.REASON]
    assert headers[deadletter.ERROR_CLASS] == b"RecordError" and headers[deadletter.STAGE] == b"sink"
    assert consumer.commits == [[("p2c.tgt.erp.customers", 0, 3)]]
    assert counters.get("accounts", "written") == 2 and counters.get("accounts", "dead_lettered") == 1


def test_configuration_error_stops_without_commit() -> None:
    class Broken(RecordingSink):
        def write(self, batch: Sequence[SinkRecord]) -> WriteResult:
            raise ConfigurationError("HTTP 403")

    consumer = FakeConsumer([msg(0, 0, "a")])
    r = runner(Broken(), consumer, FakeProducer(), Counters())
    r.subscribe()
    with pytest.raises(ConfigurationError):
        r.step()
    assert consumer.commits == []


def test_revoked_partitions_leave_their_unwritten_records_to_the_next_owner() -> None:
    consumer = FakeConsumer([])
    snk = RecordingSink()
    r = runner(snk, consumer, FakeProducer(), Counters())
    r.subscribe()
    r._buffer = [msg(0, 5, "a"), msg(1, 7, "b")]  # type: ignore[list-item]
    consumer.on_revoke(consumer, [TopicPartition("p2c.tgt.erp.customers", 1)])
    assert [m.key() for m in r._buffer] == [b"a"]


def test_reporter_line() -> None:
    counters = Counters()
    counters.incr("accounts", "written", 5)
    counters.incr("accounts", "in", 6)
    assert Reporter("sink-erp", counters).line() == "sink-erp: accounts in=6 written=5"


def test_settings_precedence(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "p2c.toml"
    cfg.write_text('[source.crm]\nurl = "http://file"\npoll_interval = 5.0\n[sink.erp]\ncompany = "usrt"\n')
    monkeypatch.setenv("P2C_CRM_POLL_INTERVAL", "2.5")
    monkeypatch.setenv("P2C_CRM_CLIENT_SECRET", "env-secret")
    s = load(CrmSourceSettings, "source.crm", cfg, entities="accounts")
    assert s.url == "http://file" and s.poll_interval == 2.5 and s.entity_list == ["accounts"]
    assert s.client_secret.get_secret_value() == "env-secret" and "env-secret" not in repr(s)
    assert load(CrmSourceSettings, "source.crm", cfg, url="http://opt").url == "http://opt"
    e = load(ErpSinkSettings, "sink.erp", cfg)
    assert e.company == "usrt" and e.group("customers") == "p2c-sink-erp-customers"
    assert e.service_root == "http://127.0.0.1:8702/data/"
    cfg.write_text("[source.crm]\nbogus = 1\n")
    with pytest.raises(ConfigurationError, match="bogus"):
        load(CrmSourceSettings, "source.crm", cfg)


class HoldingSink(RecordingSink):
    """Holds back the records in ``waiting`` until they were offered ``rounds`` times."""

    def __init__(self, waiting: Sequence[str], rounds: int) -> None:
        super().__init__()
        self.waiting = set(waiting)
        self.rounds = rounds

    def write(self, batch: Sequence[SinkRecord]) -> WriteResult:
        self.calls.append([r.key for r in batch])
        result, held = WriteResult(), []
        for r in batch:
            if r.key in self.waiting and len(self.calls) < self.rounds:
                held.append(r)
            else:
                result.written.append(r)
                self.written.append(r.key)
        if held:
            raise HeldBack("waiting for a customer", 0.0, result, held)
        return result


def test_held_records_are_parked_newer_ones_flow_and_commits_stop_at_the_first_held() -> None:
    consumer = FakeConsumer([msg(0, 0, "a"), msg(0, 1, "held"), msg(0, 2, "c"), msg(1, 0, "d")])
    counters = Counters()
    snk = HoldingSink(["held"], rounds=3)
    r = SinkRunner(snk, consumer, FakeProducer(), JsonCodecs(), batch_size=4, batch_ms=10, metrics=counters)  # type: ignore[arg-type]
    r.subscribe()
    assert r.step() == 4
    assert snk.written == ["a", "c", "d"]
    # partition 0 only up to the held record; partition 1 entirely
    assert consumer.commits == [[("p2c.tgt.erp.customers", 0, 1), ("p2c.tgt.erp.customers", 1, 1)]]
    consumer.messages = [msg(1, 1, "e")]  # newer records keep flowing while one is held
    assert r.step() == 1
    assert snk.calls[1] == ["held", "e"] and snk.written[-1] == "e"
    assert consumer.commits[-1] == [("p2c.tgt.erp.customers", 1, 2)]
    while consumer.commits[-1] != [("p2c.tgt.erp.customers", 0, 3)]:
        r.step()
    assert snk.written[-1] == "held" and counters.get("accounts", "written") == 5
    assert counters.get("accounts", "in") == 5


def test_every_commit_and_position_waits_for_the_counts_it_covers() -> None:
    """The counts are published before the offsets (or the position) they cover: a crash right after the commit
    cannot lose them, since the next run starts past those records and never counts them again."""
    consumer, producer, counters = FakeConsumer([msg(0, 0, "a"), msg(0, 1, "b")]), FakeProducer(), Counters()
    seen: list[tuple[int, int]] = []  # (records written, commits made) as each publish saw them
    r = runner(RecordingSink(), consumer, producer, counters)
    r.publish_counts = lambda: seen.append((counters.get("accounts", "written"), len(consumer.commits)))
    r.subscribe()
    r.step()
    assert seen == [(2, 0)] and consumer.commits == [[("p2c.tgt.erp.customers", 0, 2)]]

    def unpublished() -> None:
        raise RuntimeError("sink-erp: the broker did not acknowledge its counts in 10 s")

    consumer, store = FakeConsumer([msg(0, 0, "c")]), MemoryStore()
    r = runner(RecordingSink(), consumer, FakeProducer(), Counters())
    r.publish_counts = unpublished
    r.subscribe()
    r.step()
    assert consumer.commits == []  # put off: read (and counted) again after a crash
    src = ScriptedSource([ev("a"), Checkpoint({"p": 1})])
    with pytest.raises(RetriableError, match=r"did not acknowledge its counts.*position not stored"):
        SourceRunner(src, FakeProducer(), JsonCodecs(), store, publish_counts=unpublished).run()  # type: ignore[arg-type]
    assert store.saved == {}
