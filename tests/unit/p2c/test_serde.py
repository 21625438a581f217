"""TopicCodec against the official client's in-memory registry: the wire format, Decimal and datetime values."""

from __future__ import annotations

import asyncio
import json
import warnings
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from p2c import schemas
from p2c.errors import RecordError, RetriableError
from p2c.serde import Codecs, decode_key, deserialize_off_loop, encode_key
from p2c.settings import RegistrySettings
from p2c.topics import CRM_ACCOUNTS

with warnings.catch_warnings(record=True):  # Authlib warns on import when httpx2 is missing
    # 2.16 ships the mock under _sync; confluent_kafka.schema_registry.mock_schema_registry_client is gone.
    from confluent_kafka.schema_registry import Schema
    from confluent_kafka.schema_registry._sync.mock_schema_registry_client import MockSchemaRegistryClient

TOPIC = CRM_ACCOUNTS.name
MODIFIED = datetime(2026, 11, 23, 14, 5, 7, 123000, tzinfo=UTC)


def account(**changes: Any) -> dict[str, Any]:
    row = {
        "accountid": UUID("3f2504e0-4f89-11d3-9a0c-0305e82c3301"),
        "accountnumber": "ACC-00042-X7K2QD",
        "name": "Fourth Coffee (sample)",
        "telephone1": "+1 425 555 0100",
        "emailaddress1": "orders@fourthcoffee.example",
        "creditlimit": Decimal("250000.0000"),
        "numberofemployees": 120,
        "address1_line1": "1 Market Street",
        "address1_city": "Seattle",
        "address1_postalcode": "98101",
        "address1_country": "US",
        "transactioncurrencyid_isocurrencycode": "USD",
        "statecode": 0,
        "modifiedon": MODIFIED,
        "versionnumber": 7_654_321,
    }
    return row | changes


def change_event(**changes: Any) -> dict[str, Any]:
    return {
        "op": "u",
        "before": account(creditlimit=Decimal("100000.0000"), versionnumber=7_654_000),
        "after": account(**changes),
        "source": {
            "connector": "crm-accounts",
            "system": "crm",
            "entity": "accounts",
            "company": "org1",
            "position": "delta-token-918",
            "ts_ms": MODIFIED,
            "version": 7_654_321,
        },
        "ts_ms": datetime(2026, 11, 23, 14, 5, 8, 2000, tzinfo=UTC),
    }


@pytest.fixture
def codecs() -> Codecs:
    client = MockSchemaRegistryClient({"url": "mock://p2c"})
    client.register_schema(CRM_ACCOUNTS.subject, Schema(json.dumps(schemas.load(TOPIC)), "AVRO"))
    return Codecs(client)


def _defaults_filled(event: dict[str, Any]) -> dict[str, Any]:
    """What a reader sees: optional fields the writer left out come back as None."""
    fields = [f["name"] for f in schemas.load(TOPIC)["fields"][1]["type"][1]["fields"]]
    for side in ("before", "after"):
        event[side] = {name: event[side].get(name) for name in fields}
    return event


def test_round_trip_keeps_decimals_and_timestamps(codecs: Codecs) -> None:
    event = change_event()
    data = codecs[TOPIC].serialize(event, key="ACC-00042-X7K2QD")
    assert data[0] == 0 and len(data) > 5  # Confluent wire format: magic byte, schema id, Avro body
    back = codecs[TOPIC].deserialize(data, key="ACC-00042-X7K2QD")
    assert back == _defaults_filled(change_event())
    assert back["after"]["creditlimit"] == Decimal("250000.0000")
    assert back["after"]["modifiedon"] == MODIFIED


def test_uuid_strings_are_accepted_and_come_back_as_uuids(codecs: Codecs) -> None:
    event = change_event(accountid="3f2504e0-4f89-11d3-9a0c-0305e82c3301")
    back = codecs[TOPIC].deserialize(codecs[TOPIC].serialize(event))
    assert back["after"]["accountid"] == UUID("3f2504e0-4f89-11d3-9a0c-0305e82c3301")


def test_codecs_share_one_codec_per_topic(codecs: Codecs) -> None:
    assert codecs[TOPIC] is codecs[TOPIC]


def test_value_that_does_not_fit_names_the_record(codecs: Codecs) -> None:
    with pytest.raises(RecordError, match=r"record 'ACC-00042-X7K2QD'.*p2c\.src\.crm\.accounts") as caught:
        codecs[TOPIC].serialize(change_event(numberofemployees="many"), key="ACC-00042-X7K2QD")
    assert caught.value.record_key == "ACC-00042-X7K2QD"


def test_missing_required_field_is_a_record_error(codecs: Codecs) -> None:
    event = change_event()
    del event["source"]
    with pytest.raises(RecordError, match="record 'k'"):
        codecs[TOPIC].serialize(event, key="k")


def test_garbage_bytes_are_a_record_error(codecs: Codecs) -> None:
    with pytest.raises(RecordError, match=r"record 'k'.*cannot be decoded from p2c\.src\.crm\.accounts"):
        codecs[TOPIC].deserialize(b"not avro at all", key="k")


def test_unregistered_schema_is_not_registered_by_the_serializer() -> None:
    client = MockSchemaRegistryClient({"url": "mock://p2c"})
    with pytest.raises(Exception, match=r"(?i)not found"):
        Codecs(client)[TOPIC].serialize(change_event(), key="k")
    assert client.get_subjects() == []


def test_keys_are_utf8_strings() -> None:
    assert encode_key("ACC-ä") == "ACC-ä".encode()
    assert decode_key(encode_key("ACC-ä")) == "ACC-ä"
    assert encode_key(None) is None and decode_key(None) is None


def test_an_unknown_schema_id_and_a_truncated_value_are_record_errors(codecs: Codecs) -> None:
    data = codecs[TOPIC].serialize(change_event(), "k")
    unknown = b"\x00" + (999).to_bytes(4, "big") + data[5:]
    with pytest.raises(RecordError, match="schema"):
        codecs[TOPIC].deserialize(unknown, "k")
    with pytest.raises(RecordError, match="cannot be decoded"):
        codecs[TOPIC].deserialize(data[: len(data) // 2], "k")


def test_a_registry_that_does_not_answer_is_retriable_and_requests_are_bounded() -> None:
    settings = RegistrySettings(schema_registry_url="http://127.0.0.1:9", schema_registry_timeout=2.0)
    assert settings.client_config()["timeout"] == 2.0
    codec = Codecs.from_settings(settings)[TOPIC]
    assert not codec.cached(b"\x00\x00\x00\x00\x01")
    with pytest.raises(RetriableError, match="schema registry"):
        codec.deserialize(b"\x00\x00\x00\x00\x01\x02", "k")


def test_decoding_leaves_the_event_loop_only_until_the_schema_is_known(codecs: Codecs) -> None:
    codec = codecs[TOPIC]
    data = codec.serialize(change_event(), "k")
    assert codec.cached() and not codec.cached(data)
    assert asyncio.run(deserialize_off_loop(codec, data, "k"))["op"] == "u"
    assert codec.cached(data)
