"""The official client round-trips one realistic event of every topic through the registry and the broker.

Register the contract, AvroSerializer, produce, consume (assign, no group), AvroDeserializer, compare: what
any Confluent client in another language would do against p2c's registry and broker.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from confluent_kafka import Consumer, Message, Producer, TopicPartition
from confluent_kafka.serialization import MessageField, SerializationContext

from p2c import schemas
from p2c.admin import ensure_topics
from p2c.flows import topic as by_name
from p2c.schemas_diff import Parsed, parse
from p2c.settings import KafkaSettings

with warnings.catch_warnings(record=True):  # Authlib warns on import when httpx2 is missing
    from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer

pytestmark = pytest.mark.timeout(60)

CHANGED_AT = datetime(2026, 11, 23, 14, 5, 7, 123000, tzinfo=UTC)
# Realistic strings by field name; anything else gets "<field> sample".
STRINGS = {
    "accountnumber": "ACC-00042-X7K2QD",
    "name": "Fourth Coffee (sample)",
    "emailaddress1": "orders@fourthcoffee.example",
    "Email": "orders@fourthcoffee.example",
    "dataAreaId": "usmf",
    "system": "crm",
    "connector": "crm-accounts",
    "entity": "accounts",
    "company": "org1",
    "CurrencyCode": "USD",
    "transactioncurrencyid_isocurrencycode": "USD",
    "address1_country": "US",
    "LanguageId": "en-us",
}


class Sample:
    """A valid, realistic-looking datum for a parsed schema: every optional field filled, decimals at scale."""

    def __init__(self, parsed: Parsed) -> None:
        self.parsed = parsed
        self.counter = 0

    def of(self, schema: Any, name: str = "") -> Any:
        schema = self.parsed.resolve(schema)
        if isinstance(schema, list):
            return self.of(next(b for b in schema if b != "null"), name)
        kind = schema if isinstance(schema, str) else schema["type"]
        logical = None if isinstance(schema, str) else schema.get("logicalType")
        self.counter += 1
        if logical == "decimal":
            return Decimal(1234 + self.counter).scaleb(-2).quantize(Decimal(1).scaleb(-schema.get("scale", 0)))
        if logical == "timestamp-millis":
            return CHANGED_AT
        if logical == "date":
            return date(2026, 12, 1)
        if logical == "uuid":
            return UUID(int=0x3F2504E04F8911D39A0C0305E82C3300 + self.counter)
        if kind == "record":
            return {f["name"]: self.of(f["type"], f["name"]) for f in schema["fields"]}
        if kind == "enum":
            return "u" if "u" in schema["symbols"] else schema["symbols"][0]
        if kind == "array":
            return [self.of(schema["items"], name) for _ in range(2)]
        if kind == "map":
            return {"a": self.of(schema["values"], name)}
        return self._primitive(kind, name)

    def _primitive(self, kind: str, name: str) -> Any:
        values: dict[str, Any] = {
            "string": STRINGS.get(name, f"{name} sample"),
            "int": self.counter,
            "long": 7_654_321 + self.counter,
            "boolean": True,
            "float": 0.5,
            "double": 1.25,
            "bytes": b"\x00\x01",
        }
        return values[kind]


@pytest.fixture(scope="module")
def client(registry_url: str) -> Iterator[SchemaRegistryClient]:
    with SchemaRegistryClient({"url": registry_url}) as client:
        yield client


@pytest.fixture(scope="module")
def producer(kafka: KafkaSettings) -> Iterator[Producer]:
    """One idempotent producer for every topic: starting one costs half a second."""
    producer = Producer(kafka.producer())
    yield producer
    producer.flush(10)


def test_sample_generator_fills_every_optional_field() -> None:
    event = Sample(parse(schemas.load("p2c.src.crm.accounts"))).of(parse(schemas.load("p2c.src.crm.accounts")).root)
    assert event["op"] == "u" and event["after"]["accountnumber"] == "ACC-00042-X7K2QD"
    assert all(value is not None for value in event["after"].values())
    assert event["after"]["creditlimit"].as_tuple().exponent == -4


@pytest.mark.parametrize("topic", schemas.topics())
def test_round_trip(topic: str, client: SchemaRegistryClient, kafka: KafkaSettings, producer: Producer) -> None:
    schema_str = json.dumps(schemas.load(topic))
    subject = by_name(topic).subject
    schema_id = client.register_schema(subject, Schema(schema_str, "AVRO"))
    assert client.register_schema(subject, Schema(schema_str, "AVRO")) == schema_id  # idempotent
    ensure_topics(kafka, [by_name(topic)])

    parsed = parse(schema_str)
    event = Sample(parsed).of(parsed.root)
    ctx = SerializationContext(topic, MessageField.VALUE)
    serializer = AvroSerializer(client, schema_str, conf={"auto.register.schemas": False})
    data = serializer(event, ctx)
    assert data[0] == 0 and int.from_bytes(data[1:5], "big") == schema_id

    delivered: list[Message] = []
    producer.produce(topic, key=b"sample-key", value=data, on_delivery=lambda err, msg: delivered.append(msg))
    assert producer.flush(10) == 0 and delivered and delivered[0].error() is None

    consumer = Consumer(kafka.consumer("unused", **{"fetch.wait.max.ms": 10}))
    try:
        partition, offset = delivered[0].partition(), delivered[0].offset()
        assert partition is not None and offset is not None
        consumer.assign([TopicPartition(topic, partition, offset)])
        message = consumer.poll(10)
    finally:
        consumer.close()
    assert message is not None and message.error() is None
    assert message.key() == b"sample-key"
    assert AvroDeserializer(client)(message.value(), ctx) == event
