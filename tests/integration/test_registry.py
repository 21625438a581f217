"""The registry as a user meets it: the official Confluent client, real processes, the real broker.

Every registry here shares the session broker's ``_schemas`` topic, so subjects carry a unique prefix.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.serialization import MessageField, SerializationContext

from p2c.process import ManagedProcess
from p2c.registry import records
from p2c.registry.kafka_store import KafkaStore
from p2c.settings import KafkaSettings
from tests.support.services import start_registry

with warnings.catch_warnings(record=True):  # Authlib warns on import when httpx2 is missing
    from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
    from confluent_kafka.schema_registry.error import SchemaRegistryError

pytestmark = pytest.mark.timeout(60)
T = TypeVar("T")


def avro(*fields: tuple[str, Any] | dict[str, Any], name: str = "Customer") -> Schema:
    out = [f if isinstance(f, dict) else {"name": f[0], "type": f[1]} for f in fields]
    return Schema(json.dumps({"type": "record", "name": name, "namespace": "p2c.test", "fields": out}), "AVRO")


V1 = avro(("accountnumber", "string"), ("credit_limit", "double"))
V2 = avro(
    ("accountnumber", "string"),
    ("credit_limit", "double"),
    {"name": "email", "type": ["null", "string"], "default": None},
)
BREAKS = avro(("accountnumber", "string"), ("credit_limit", "double"), ("currency", "string"))


@pytest.fixture
def subject() -> str:
    return f"test-{uuid.uuid4().hex[:8]}-value"


@pytest.fixture
def connect() -> Iterator[Callable[[str], SchemaRegistryClient]]:
    """Make clients that are closed after the test (an open one leaks its sockets)."""
    made: list[SchemaRegistryClient] = []

    def make(url: str) -> SchemaRegistryClient:
        made.append(SchemaRegistryClient({"url": url}))
        return made[-1]

    yield make
    for c in made:
        c.close()


@pytest.fixture
def client(registry_url: str, connect: Callable[[str], SchemaRegistryClient]) -> SchemaRegistryClient:
    return connect(registry_url)


@pytest.fixture
def second_registry(kafka_bootstrap: str, logs_dir: Path) -> Iterator[str]:
    process, url = start_registry(kafka_bootstrap, logs_dir, name="registry-b")
    yield url
    process.stop()


def eventually(probe: Callable[[], T], timeout: float = 5.0) -> T:
    """``probe()`` once it stops raising SchemaRegistryError (another process's write takes a moment)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return probe()
        except SchemaRegistryError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def test_the_official_client_registers_reads_checks_and_deletes(client: SchemaRegistryClient, subject: str) -> None:
    first = client.register_schema(subject, V1)
    assert client.register_schema(subject, V1) == first  # the same schema: the same id
    second = client.register_schema(subject, V2)
    assert second != first
    latest = client.get_latest_version(subject)
    assert (latest.version, latest.schema_id) == (2, second)
    assert json.loads(client.get_schema(first).schema_str or "") == json.loads(V1.schema_str or "")
    found = client.lookup_schema(subject, V1)
    assert (found.version, found.schema_id) == (1, first)
    assert client.get_versions(subject) == [1, 2]
    assert subject in client.get_subjects()

    assert client.test_compatibility(subject, V2) is True
    assert client.test_compatibility(subject, BREAKS) is False
    with pytest.raises(SchemaRegistryError) as exc:
        client.register_schema(subject, BREAKS)
    assert (exc.value.http_status_code, exc.value.error_code) == (409, 409)

    # the client's annotation says str; it returns the registry's JSON body
    assert client.set_compatibility(subject, "FORWARD") == {"compatibility": "FORWARD"}  # type: ignore[comparison-overlap]
    assert client.get_compatibility(subject) == "FORWARD"
    assert client.test_compatibility(subject, BREAKS) is True

    assert client.delete_version(subject, 1) == 1
    assert client.get_versions(subject) == [2]
    assert client.delete_subject(subject) == [2]
    assert client.delete_subject(subject, permanent=True) == [1, 2]
    with pytest.raises(SchemaRegistryError) as exc:
        client.get_versions(subject)
    assert (exc.value.http_status_code, exc.value.error_code) == (404, 40401)


def test_avro_round_trip_through_the_broker(client: SchemaRegistryClient, kafka_bootstrap: str, subject: str) -> None:
    topic = subject.removesuffix("-value")
    serialize = AvroSerializer(client, V2.schema_str)
    deserialize = AvroDeserializer(client)
    ctx = SerializationContext(topic, MessageField.VALUE)
    event = {"accountnumber": "ACC-00042", "credit_limit": 2500.5, "email": "orders@fourthcoffee.example"}
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    producer.produce(topic, key=b"ACC-00042", value=serialize(event, ctx))
    assert producer.flush(10) == 0
    consumer = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": "unused", "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 0, 0)])
    try:
        msg = None
        deadline = time.monotonic() + 10
        while msg is None and time.monotonic() < deadline:
            msg = consumer.poll(0.2)
        assert msg is not None and msg.error() is None
        value = msg.value()
        assert value is not None and deserialize(value, ctx) == event
        assert client.get_latest_version(subject).schema_id == int.from_bytes(value[1:5], "big")
    finally:
        consumer.close()


def test_state_survives_a_restart(
    kafka_bootstrap: str, logs_dir: Path, subject: str, connect: Callable[[str], SchemaRegistryClient]
) -> None:
    process, url = start_registry(kafka_bootstrap, logs_dir, name="registry-restart")
    try:
        schema_id = connect(url).register_schema(subject, V1)
        connect(url).set_compatibility(subject, "FULL")
    finally:
        process.stop()
    again: ManagedProcess | None = None
    try:
        again, url = start_registry(kafka_bootstrap, logs_dir, name="registry-restart")
        fresh = connect(url)
        latest = fresh.get_latest_version(subject)
        assert (latest.version, latest.schema_id) == (1, schema_id)
        assert fresh.get_compatibility(subject) == "FULL"
    finally:
        if again is not None:
            again.stop()


def test_two_registries_agree_and_never_share_an_id(
    registry_url: str, second_registry: str, subject: str, connect: Callable[[str], SchemaRegistryClient]
) -> None:
    a, b = connect(registry_url), connect(second_registry)
    schema_id = a.register_schema(subject, V1)
    assert eventually(lambda: b.get_latest_version(subject)).schema_id == schema_id
    assert b.register_schema(subject, V1) == schema_id

    # Both register distinct schemas at once, under distinct and shared subjects.
    def register(i: int) -> tuple[int, int]:
        where = (a, b)[i % 2]
        field = {"name": f"f{i}", "type": "int", "default": i}
        return i, where.register_schema(f"{subject}-{i % 3}", avro(("accountnumber", "string"), field))

    with ThreadPoolExecutor(8) as pool:
        ids = dict(pool.map(register, range(24)))
    assert len(set(ids.values())) == 24 and schema_id not in ids.values()
    fresh_a, fresh_b = connect(registry_url), connect(second_registry)  # no client-side cache
    for i, got in ids.items():  # and both registries say the same about every id
        text_a = eventually(partial(fresh_a.get_schema, got)).schema_str
        text_b = eventually(partial(fresh_b.get_schema, got)).schema_str
        assert text_a == text_b and f'"f{i}"' in (text_a or "")


def _note_offset(into: list[int], record: records.Record) -> None:
    into.append(record.offset)


def test_a_quiet_store_reads_its_own_writes_back_at_once_and_follows_the_others(kafka_bootstrap: str) -> None:
    """A quiet store tails the log with a long fetch wait, which the embedded broker may hold out even when a
    record arrives (5 s for ``a`` here: measured, its writes then took 1.9 s to read back): a write must not wait
    for it. What another store writes reaches a quiet store (``b``, the default 1 s wait) in order, unasked."""
    settings = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    topic = f"_schemas-quiet-{uuid.uuid4().hex[:8]}"

    async def scenario() -> None:
        seen: dict[str, list[int]] = {"a": [], "b": []}
        stores = {
            "a": KafkaStore(settings, topic, idle_after_s=0.3, idle_wait_ms=5000),
            "b": KafkaStore(settings, topic, idle_after_s=0.3),
        }
        for name, store in stores.items():
            await store.start(partial(_note_offset, seen[name]))
        try:
            written = []
            for i in range(4):
                await asyncio.sleep(0.6)  # both quiet again
                began = time.monotonic()
                appended = await stores["a"].append(records.config_key(f"quiet-{i}"), {"compatibilityLevel": "FULL"})
                assert time.monotonic() - began < 1.0, f"write {i} waited out the quiet fetch"
                written.append(appended.offset)
            deadline = time.monotonic() + 10
            while seen["b"] != written and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            assert seen["b"] == written == seen["a"]
            last = await stores["b"].append(records.config_key("quiet-b"), {"compatibilityLevel": "NONE"})
            await stores["a"].sync()
            assert seen["a"] == [*written, last.offset]
        finally:
            for store in stores.values():
                await store.close()

    asyncio.run(scenario())
