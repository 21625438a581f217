"""Serializers and deserializers per topic, in the Confluent wire format.

Built on ``confluent_kafka.schema_registry.avro`` (fastavro underneath). Values are Avro with the schema from
``schemas/``, registered under ``<topic>-value``; keys are plain UTF-8 strings so that any client (and Kafka's
default partitioner) sees the same key.

Serializers never auto-register: ``p2c schemas register`` (run by ``p2c up``) is the one place that
registers, so a producer cannot sneak an unreviewed schema change into the registry.
"""

from __future__ import annotations

import json
from functools import cached_property
from typing import Any

from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext, SerializationError

from p2c import schemas
from p2c.errors import RecordError
from p2c.settings import RegistrySettings


def registry_client(settings: RegistrySettings | None = None) -> SchemaRegistryClient:
    return SchemaRegistryClient((settings or RegistrySettings()).client_config())


def encode_key(key: str | None) -> bytes | None:
    return None if key is None else key.encode("utf-8")


def decode_key(raw: bytes | None) -> str | None:
    return None if raw is None else raw.decode("utf-8")


class TopicCodec:
    """Avro value serializer and deserializer for one topic."""

    def __init__(self, topic: str, client: SchemaRegistryClient) -> None:
        self.topic = topic
        self._client = client
        self._value_ctx = SerializationContext(topic, MessageField.VALUE)

    @cached_property
    def _serializer(self) -> AvroSerializer:
        serializer: AvroSerializer = AvroSerializer(
            self._client,
            json.dumps(schemas.load(self.topic)),
            conf={"auto.register.schemas": False, "use.latest.version": False},
        )
        return serializer

    @cached_property
    def _deserializer(self) -> AvroDeserializer:
        deserializer: AvroDeserializer = AvroDeserializer(self._client)
        return deserializer

    def serialize(self, value: dict[str, Any], key: str | None = None) -> bytes:
        """Encode ``value``; a value that does not fit the schema raises RecordError naming the record."""
        try:
            data = self._serializer(value, self._value_ctx)
        except (SerializationError, ValueError, TypeError, KeyError) as exc:
            raise RecordError(f"does not fit the schema of {self.topic}: {exc}", record_key=key) from exc
        if data is None:
            raise RecordError(f"encodes to nothing on {self.topic}", record_key=key)
        return data

    def deserialize(self, data: bytes, key: str | None = None) -> dict[str, Any]:
        """Decode a wire-format value written with any registered version of the subject."""
        try:
            value = self._deserializer(data, self._value_ctx)
        except (SerializationError, ValueError, TypeError, KeyError) as exc:
            raise RecordError(f"cannot be decoded from {self.topic}: {exc}", record_key=key) from exc
        if not isinstance(value, dict):
            raise RecordError(f"decodes to {type(value).__name__}, not a record, from {self.topic}", record_key=key)
        return value


class Codecs:
    """One TopicCodec per topic, sharing a registry client (and its schema cache)."""

    def __init__(self, client: SchemaRegistryClient) -> None:
        self.client = client
        self._codecs: dict[str, TopicCodec] = {}

    @classmethod
    def from_settings(cls, settings: RegistrySettings | None = None) -> Codecs:
        return cls(registry_client(settings))

    def __getitem__(self, topic: str) -> TopicCodec:
        codec = self._codecs.get(topic)
        if codec is None:
            codec = self._codecs[topic] = TopicCodec(topic, self.client)
        return codec
