"""End offsets, read-to-end and metrics snapshots against the real broker, including the embedded
broker's wrong ListOffsets answer for multi-record batches."""

from __future__ import annotations

import json
import os
import uuid

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from p2c.keyed_log import KeyedLogTail, read_latest
from p2c.metrics import Counters, MetricsReporter, read_snapshots
from p2c.offsets import OffsetsReader, committed_offsets, end_offsets
from p2c.settings import KafkaSettings


def new_topic(kafka: KafkaSettings, partitions: int) -> str:
    name = f"test-{uuid.uuid4().hex[:8]}"
    admin = AdminClient(kafka.librdkafka())  # keep a reference until the future resolves
    admin.create_topics([NewTopic(name, partitions, 1)])[name].result()
    return name


def produce_batched(kafka: KafkaSettings, topic: str, per_partition: dict[int, int]) -> None:
    """Many records per partition in one request: multi-record batches."""
    producer = Producer(kafka.producer(**{"linger.ms": 50}))
    for partition, count in per_partition.items():
        for i in range(count):
            producer.produce(topic, key=f"k{i % 3}".encode(), value=f"v{i}".encode(), partition=partition)
    assert producer.flush(10) == 0


def test_end_offsets_count_every_record_of_multi_record_batches(kafka_bootstrap: str) -> None:
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    topic = new_topic(kafka, 3)
    produce_batched(kafka, topic, {0: 12, 1: 5, 2: 0})
    produce_batched(kafka, topic, {0: 3})
    assert end_offsets(kafka, [topic, "no-such-topic"]) == {(topic, 0): 15, (topic, 1): 5, (topic, 2): 0}


def test_committed_offsets_of_a_group_that_never_committed(kafka_bootstrap: str) -> None:
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    topic = new_topic(kafka, 2)
    assert committed_offsets(kafka, "nobody", [(topic, 0), (topic, 1)]) == {(topic, 0): -1001, (topic, 1): -1001}


def test_an_offsets_reader_asked_again_and_again_answers_as_the_one_shot_functions(kafka_bootstrap: str) -> None:
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    topic = new_topic(kafka, 3)
    reader = OffsetsReader(kafka)
    try:
        assert reader.ends([topic, "no-such-topic"]) == {(topic, 0): 0, (topic, 1): 0, (topic, 2): 0}
        produce_batched(kafka, topic, {0: 12, 1: 5})  # multi-record batches, which the embedded broker counts low
        assert reader.ends([topic]) == {(topic, 0): 12, (topic, 1): 5, (topic, 2): 0} == end_offsets(kafka, [topic])
        produce_batched(kafka, topic, {0: 3000})  # more than one fetch of the reader's (one batch) brings
        expected = {(topic, 0): 3012, (topic, 1): 5, (topic, 2): 0}
        assert reader.ends([topic]) == expected == end_offsets(kafka, [topic])
        assert reader.ends([topic]) == expected  # nothing added: the same, from where the last read ended
        reader._last_ends[(topic, 1)] = 10**6  # as after a broker that lost records since the last read
        assert reader.ends([topic]) == expected
        later = new_topic(kafka, 2)  # a topic that was not there at the reader's first read
        produce_batched(kafka, later, {1: 4})
        assert reader.ends([topic, later]) == expected | {(later, 0): 0, (later, 1): 4}

        asked = [(topic, 0), (topic, 1), (topic, 2)]
        assert reader.committed("nobody", asked) == {tp: -1001 for tp in asked}
        group = f"group-{uuid.uuid4().hex[:6]}"
        committer = Consumer(kafka.consumer(group))
        committer.commit(offsets=[TopicPartition(topic, 0, 7), TopicPartition(topic, 1, 2)], asynchronous=False)
        committer.close()
        committed = {(topic, 0): 7, (topic, 1): 2, (topic, 2): -1001}
        assert reader.committed(group, asked) == committed == committed_offsets(kafka, group, asked)
        assert reader.committed(group, []) == {}
    finally:
        reader.close()


def test_read_latest_keeps_the_last_value_per_key_across_batches(kafka_bootstrap: str) -> None:
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    topic = new_topic(kafka, 2)
    produce_batched(kafka, topic, {0: 10, 1: 4})
    latest = read_latest(kafka, topic)
    # partition 0 ends with v9 (k0), v8 (k2), v7 (k1); partition 1 with v3 (k0), v2 (k2), v1 (k1): 1 wrote last
    assert set(latest) == {b"k0", b"k1", b"k2"}
    assert read_latest(kafka, "no-such-topic-here") == {}


def test_a_tail_keeps_up_with_what_is_added_and_fetches_nothing_between_reads(kafka_bootstrap: str) -> None:
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    topic = new_topic(kafka, 2)
    producer = Producer(kafka.producer(**{"linger.ms": 50}))  # multi-record batches

    def write(*records: tuple[int, str, str]) -> None:
        for partition, key, value in records:  # a key in one partition, as a keyed producer would put it
            producer.produce(topic, key=key.encode(), value=value.encode(), partition=partition)
        assert producer.flush(10) == 0

    tail = KeyedLogTail(kafka, topic)
    try:
        assert tail.read() == {}  # nothing written yet: every partition is at its end at once
        write(*[(0, f"a{i % 3}", f"v{i}") for i in range(10)], *[(1, f"b{i % 2}", f"w{i}") for i in range(4)])
        first = tail.read()
        assert first == {b"a0": b"v9", b"a1": b"v7", b"a2": b"v8", b"b0": b"w2", b"b1": b"w3"}
        assert tail.read() == first  # nothing added: the same, from the end
        write((1, "b1", "new"), (0, "a9", "added"))
        assert tail._consumer is not None and tail._consumer.consume(100, 1.0) == []  # paused between reads
        assert tail.read() == first | {b"b1": b"new", b"a9": b"added"} == read_latest(kafka, topic)
    finally:
        tail.close()
    assert KeyedLogTail(kafka, "no-such-topic-here").read() == {}


def test_each_process_reports_under_its_own_instance_id(kafka_bootstrap: str) -> None:
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    component = f"sink-{uuid.uuid4().hex[:6]}"
    counters = Counters()
    reporter = MetricsReporter(component, kafka, counters, interval=60)
    reporter.start()
    counters.incr("accounts", "written", 40)
    counters.gauge("quotes", "waiting", 3)
    reporter.stop()
    snapshots = read_snapshots(kafka)
    assert reporter.instance.startswith(f"{component}@") and reporter.instance.endswith(f":{os.getpid()}")
    snapshot = snapshots[reporter.instance]
    assert snapshot["component"] == component
    assert snapshot["counts"] == {"accounts": {"written": 40}}
    assert json.dumps(snapshot["gauges"]) == '{"quotes": {"waiting": 3}}'
