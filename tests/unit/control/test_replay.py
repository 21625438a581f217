"""p2c replay's parts without a broker: where a time starts (a bisect over fetches), --from, the requests, the plan,
and a sink runner rewinding the partitions it owns."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import TopicPartition

from p2c.connectors.core.metrics import Counters
from p2c.control.replay.run import plan_groups
from p2c.control.replay.seek import Start, first_at_or_after
from p2c.errors import ConfigurationError
from p2c.replays import Request, Rewound, decode
from tests.unit.connectors.fakes import FakeProducer
from tests.unit.connectors.test_runners import FakeConsumer, RecordingSink, msg, runner


class FakeLog:
    """A partition as fetches see it: records at some offsets (others compacted away or inside a batch)."""

    def __init__(self, records: dict[int, int]) -> None:
        self.records = records  # offset -> timestamp ms
        self.fetches = 0

    def __call__(self, offset: int) -> tuple[int, int] | None:
        self.fetches += 1
        later = sorted(o for o in self.records if o >= offset)
        return (later[0], self.records[later[0]]) if later else None


@pytest.mark.parametrize(
    ("time_ms", "expected"),
    [(0, 0), (100, 0), (101, 1), (201, 5), (300, 5), (301, 7), (1000, 8)],
)
def test_the_first_offset_at_or_after_a_time(time_ms: int, expected: int) -> None:
    # offsets 2-4 and 8-9 hold no record (a time after all: from 8, where nothing is); two share the time 300
    partition = FakeLog({0: 100, 1: 200, 5: 300, 6: 300, 7: 400})
    assert first_at_or_after(partition, 0, 10, time_ms) == expected


def test_the_bisect_asks_few_fetches() -> None:
    partition = FakeLog({o: 1000 + o for o in range(100_000)})
    assert first_at_or_after(partition, 0, 100_000, 1000 + 61_234) == 61_234
    assert partition.fetches <= 18


def test_an_empty_range_starts_at_its_end() -> None:
    assert first_at_or_after(FakeLog({}), 7, 7, 0) == 7
    assert first_at_or_after(FakeLog({}), 0, 7, 0) == 0  # nothing readable from 0: from its start, nothing lost


@pytest.mark.parametrize(
    ("text", "start"),
    [
        ("earliest", Start(earliest=True)),
        ("EARLIEST", Start(earliest=True)),
        ("42", Start(offset=42)),
        ("2026-12-01T04:00:00Z", Start(time_ms=1796097600000)),
        ("2026-12-01T05:00:00+01:00", Start(time_ms=1796097600000)),
        ("2026-12-01T04:00:00", Start(time_ms=1796097600000)),  # no zone: UTC
    ],
)
def test_from_is_earliest_an_offset_or_a_time(text: str, start: Start) -> None:
    assert Start.parse(text) == start


def test_from_names_what_it_takes_when_it_is_none_of_them() -> None:
    with pytest.raises(ConfigurationError, match="earliest, an offset"):
        Start.parse("yesterday")


def test_requests_and_answers_go_through_the_topic_as_they_are() -> None:
    request = Request("r1", "accounts", "streams", "p2c-streams", {("p2c.src.crm.accounts", 2): 17}, 123)
    answer = Rewound("r1", "p2c-streams", "streams-1", {("p2c.src.crm.accounts", 2): 15})
    assert decode(request.encode()) == request
    assert decode(answer.encode()) == answer
    assert decode(b"not json") is None


def test_a_stage_rewinds_the_flows_topics_in_its_groups() -> None:
    assert plan_groups("quotes", "streams", "p2c-streams") == {
        "p2c-streams": ["p2c.src.crm.quotes", "p2c.src.crm.quotedetails"]
    }
    assert plan_groups("contacts", "sink", "p2c-streams") == {
        "p2c-sink-erp-customers": ["p2c.tgt.erp.customers"],
        "p2c-sink-erp-contactpersons": ["p2c.tgt.erp.contactpersons"],
    }
    with pytest.raises(ConfigurationError, match="--stage"):
        plan_groups("accounts", "source", "p2c-streams")


class AssignedConsumer(FakeConsumer):
    def __init__(self, messages: list[Any], owned: list[tuple[str, int]]) -> None:
        super().__init__(messages)
        self.owned = owned
        self.seeks: list[tuple[str, int, int]] = []

    def assignment(self) -> list[TopicPartition]:
        return [TopicPartition(t, p) for t, p in self.owned]

    def seek(self, tp: TopicPartition) -> None:
        self.seeks.append((tp.topic, tp.partition, tp.offset))


def test_a_sink_runner_rewinds_the_partitions_it_owns_never_forward_and_commits_there() -> None:
    topic = "p2c.tgt.erp.customers"
    consumer = AssignedConsumer([msg(0, 10, "a"), msg(0, 11, "b"), msg(1, 5, "c")], [(topic, 0), (topic, 1)])
    r = runner(RecordingSink(), consumer, FakeProducer(), Counters())
    r.subscribe()
    r.step()  # 0@10, 0@11, 1@5 written and committed: 0 -> 12, 1 -> 6
    started = r.rewind({(topic, 0): 3, (topic, 1): 40, (topic, 2): 0})  # 40: past its position; 2: not its own
    assert started == {(topic, 0): 3, (topic, 1): 6}
    assert consumer.seeks == [(topic, 0, 3), (topic, 1, 6)]
    assert consumer.commits[-1] == [(topic, 0, 3), (topic, 1, 6)]
    consumer.messages = [msg(0, 3, "a")]
    r.step()  # read again from 3: committed past it as usual
    assert consumer.commits[-1] == [(topic, 0, 4)]
