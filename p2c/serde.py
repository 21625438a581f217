"""Serializers and deserializers per topic, in the Confluent wire format.

Built on ``confluent_kafka.schema_registry.avro`` (fastavro underneath). Values are Avro with the schema from
``schemas/``, registered under ``<topic>-value``; keys are plain UTF-8 strings so that any client (and Kafka's
default partitioner) sees the same key.

Serializers never auto-register: ``p2c schemas register`` (run by ``p2c up``) is the one place that
registers, so a producer cannot sneak an unreviewed schema change into the registry.
"""

from __future__ import annotations

import asyncio
import json
import struct
from functools import cached_property
from typing import Any

import httpx
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.common._httpx_compat import httpx as registry_httpx
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext, SerializationError

from p2c import schemas
from p2c.errors import RecordError, RetriableError
from p2c.settings import RegistrySettings

#: what a value that is not Avro of the topic's schema raises while it is decoded (fastavro reads past the end
#: of a truncated value, or meets bytes that are not of the type the schema says)
UNDECODABLE = (SerializationError, ValueError, TypeError, KeyError, EOFError, IndexError, struct.error)
NOT_FOUND = 404
#: what the registry client raises when the registry does not answer (it ships its own httpx, as httpx2)
REGISTRY_FAILURES = (SchemaRegistryError, registry_httpx.HTTPError, httpx.HTTPError)


def registry_client(settings: RegistrySettings | None = None) -> SchemaRegistryClient:
    return SchemaRegistryClient((settings or RegistrySettings()).client_config())


def encode_key(key: str | None) -> bytes | None:
    return None if key is None else key.encode("utf-8")


def decode_key(raw: bytes | None) -> str | None:
    return None if raw is None else raw.decode("utf-8")


def schema_id(data: bytes | None) -> int | None:
    """The schema id of a Confluent wire-format value (magic byte 0, then the id), None when it is not one."""
    if data is None or len(data) < 5 or data[0] != 0:
        return None
    return int.from_bytes(data[1:5], "big")


def registry_failure(exc: Exception, topic: str, key: str | None) -> Exception:
    """A registry answer as p2c's error: an unknown schema id is the record's (RecordError); the registry down,
    slow or failing is transient (RetriableError)."""
    if isinstance(exc, SchemaRegistryError) and exc.http_status_code == NOT_FOUND:
        return RecordError(f"names a schema the registry does not know ({exc.error_message})", record_key=key)
    return RetriableError(f"schema registry for {topic}: {type(exc).__name__}: {exc}")


class TopicCodec:
    """Avro value serializer and deserializer for one topic.

    A schema is fetched from the registry on first use (then cached by the client): :meth:`cached` tells
    whether a call can need the registry, so that an event loop sends those calls to a thread
    (:func:`deserialize_off_loop`) and stays responsive while the registry answers, or not.
    """

    def __init__(self, topic: str, client: SchemaRegistryClient) -> None:
        self.topic = topic
        self._client = client
        self._value_ctx = SerializationContext(topic, MessageField.VALUE)
        self._known_ids: set[int] = set()
        self._serializer_ready = False

    def cached(self, data: bytes | None = None) -> bool:
        """Whether decoding ``data`` (or, with None, encoding) needs nothing from the registry any more."""
        return self._serializer_ready if data is None else schema_id(data) in self._known_ids

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
        except REGISTRY_FAILURES as exc:
            raise registry_failure(exc, self.topic, key) from exc
        except (SerializationError, ValueError, TypeError, KeyError) as exc:
            raise RecordError(f"does not fit the schema of {self.topic}: {exc}", record_key=key) from exc
        if data is None:
            raise RecordError(f"encodes to nothing on {self.topic}", record_key=key)
        self._serializer_ready = True
        return data

    def deserialize(self, data: bytes, key: str | None = None) -> dict[str, Any]:
        """Decode a wire-format value written with any registered version of the subject."""
        try:
            value = self._deserializer(data, self._value_ctx)
        except REGISTRY_FAILURES as exc:
            raise registry_failure(exc, self.topic, key) from exc
        except UNDECODABLE as exc:
            raise RecordError(f"cannot be decoded from {self.topic}: {exc}", record_key=key) from exc
        if not isinstance(value, dict):
            raise RecordError(f"decodes to {type(value).__name__}, not a record, from {self.topic}", record_key=key)
        if (found := schema_id(data)) is not None:
            self._known_ids.add(found)
        return value


async def deserialize_off_loop(codec: TopicCodec, data: bytes, key: str | None = None) -> dict[str, Any]:
    """:meth:`TopicCodec.deserialize` for an event loop: in a thread when the registry may be asked."""
    if codec.cached(data):
        return codec.deserialize(data, key)
    return await asyncio.to_thread(codec.deserialize, data, key)


async def serialize_off_loop(codec: TopicCodec, value: dict[str, Any], key: str | None = None) -> bytes:
    """:meth:`TopicCodec.serialize` for an event loop: in a thread until the schema's id is known."""
    if codec.cached():
        return codec.serialize(value, key)
    return await asyncio.to_thread(codec.serialize, value, key)


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
