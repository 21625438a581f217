"""Serializers and deserializers per topic, in the Confluent wire format.

fastavro against parsed schemas cached by id, the registry through ``confluent_kafka``'s client. Values are
Avro with the schema from ``schemas/``, registered under ``<topic>-value``; keys are plain UTF-8 strings so
that any client (and Kafka's default partitioner) sees the same key.

Serializers never auto-register: ``p2c schemas register`` (run by ``p2c up``) is the one place that
registers, so a producer cannot sneak an unreviewed schema change into the registry.
"""

from __future__ import annotations

import asyncio
import io
import json
import struct
from typing import Any

import fastavro
import httpx
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.common._httpx_compat import httpx as registry_httpx
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import SerializationError

from p2c import schemas
from p2c.avro_compiled import NotCompiled, Reader, Writer, compile_reader, compile_writer
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
    """Avro value serializer and deserializer for one topic, in the Confluent wire format, with fastavro.

    Decoding reads the value with its writer's schema, fetched from the registry by the id the value names
    and parsed once (``parsed schemas cached by id``); encoding writes with the topic's schema from
    ``schemas/``, under the id the registry gives it (looked up once, never registered here). Confluent's
    ``AvroDeserializer`` did the same reads but cost ~3x as much per value (rule hooks, schema expansion).
    Each schema is also compiled to Python (:mod:`p2c.avro_compiled`): a value or bytes the compiled code is
    not sure of go to fastavro, whose answer or error is the codec's.

    :meth:`cached` tells whether a call can need the registry, so that an event loop sends those calls to a
    thread (:func:`deserialize_off_loop`) and stays responsive while the registry answers, or not.
    """

    def __init__(self, topic: str, client: SchemaRegistryClient) -> None:
        self.topic = topic
        self._client = client
        self._writers: dict[int, tuple[Any, Reader | None]] = {}  # schema id -> (parsed writer schema, compiled)
        # (wire-format header, parsed schema, compiled writer) of schemas/<topic>
        self._own: tuple[bytes, Any, Writer | None] | None = None

    def cached(self, data: bytes | None = None) -> bool:
        """Whether decoding ``data`` (or, with None, encoding) needs nothing from the registry any more."""
        return self._own is not None if data is None else schema_id(data) in self._writers

    def _own_schema(self) -> tuple[bytes, Any, Writer | None]:
        if self._own is None:
            text = json.dumps(schemas.load(self.topic))
            found = self._client.lookup_schema(f"{self.topic}-value", Schema(text, "AVRO"))
            assert found.schema_id is not None
            header = b"\x00" + found.schema_id.to_bytes(4, "big")
            parsed = fastavro.parse_schema(json.loads(text))
            self._own = (header, parsed, compile_writer(parsed))
        return self._own

    def _writer_schema(self, found: int) -> tuple[Any, Reader | None]:
        known = self._writers.get(found)
        if known is None:
            registered = self._client.get_schema(found)
            parsed = fastavro.parse_schema(json.loads(registered.schema_str or "null"))
            known = self._writers[found] = (parsed, compile_reader(parsed))
        return known

    def serialize(self, value: dict[str, Any], key: str | None = None) -> bytes:
        """Encode ``value``; a value that does not fit the schema raises RecordError naming the record."""
        try:
            header, parsed, compiled = self._own_schema()
        except REGISTRY_FAILURES as exc:
            raise registry_failure(exc, self.topic, key) from exc
        if compiled is not None:
            try:
                return compiled(value, header)
            except NotCompiled:
                pass  # fastavro writes it, or says what does not fit
        out = io.BytesIO()
        out.write(header)
        try:
            fastavro.schemaless_writer(out, parsed, value)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise RecordError(f"does not fit the schema of {self.topic}: {exc}", record_key=key) from exc
        return out.getvalue()

    def deserialize(self, data: bytes, key: str | None = None) -> dict[str, Any]:
        """Decode a wire-format value written with any registered version of the subject."""
        found = schema_id(data)
        if found is None:
            raise RecordError(f"cannot be decoded from {self.topic}: not in the Confluent wire format", record_key=key)
        try:
            parsed, compiled = self._writer_schema(found)
        except REGISTRY_FAILURES as exc:
            raise registry_failure(exc, self.topic, key) from exc
        if compiled is not None:
            try:
                decoded: dict[str, Any] = compiled(data, 5)  # a record: the schema's top level is compiled only then
                return decoded
            except NotCompiled:
                pass  # fastavro reads it, or says what is wrong
        try:
            value = fastavro.schemaless_reader(io.BytesIO(data[5:]), parsed, None)
        except UNDECODABLE as exc:
            raise RecordError(f"cannot be decoded from {self.topic}: {exc}", record_key=key) from exc
        if not isinstance(value, dict):
            raise RecordError(f"decodes to {type(value).__name__}, not a record, from {self.topic}", record_key=key)
        return value


#: values the stream agents decoded lately, by their bytes (the schema id is in them, so the bytes alone decide
#: the value): a change topic read by a flow's agent and by a join provider is decoded once, not twice
_RECENT: dict[bytes, dict[str, Any]] = {}
RECENT_SIZE = 2048


async def deserialize_off_loop(codec: TopicCodec, data: bytes, key: str | None = None) -> dict[str, Any]:
    """:meth:`TopicCodec.deserialize` for an event loop: in a thread when the registry may be asked.

    The value may be shared with another agent that read the same bytes: the streams' logic only reads it.
    """
    value = _RECENT.get(data)
    if value is not None:
        return value
    if codec.cached(data):
        value = codec.deserialize(data, key)
    else:
        value = await asyncio.to_thread(codec.deserialize, data, key)
    _RECENT[data] = value
    if len(_RECENT) > RECENT_SIZE:
        del _RECENT[next(iter(_RECENT))]
    return value


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
