"""The naive baseline of bench/bench_streams.py: a Faust agent that does the accounts mapping the obvious way.

Per event: decode with confluent's ``AvroDeserializer``, map with p2c's pure :class:`MappingFlow` (no state:
every change is mapped as if first seen), encode with confluent's ``AvroSerializer``, one ``send`` per write.
No table, no dead-letter topic, no retries: what a new user would write first.

    python bench/naive_faust.py --bootstrap-servers H:P --schema-registry-url URL --target TOPIC --app-id ID
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
from typing import Any

import faust
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from p2c import schemas
from p2c.streams import loader
from p2c.streams.app import broker_urls
from p2c.streams.flow import MappingFlow
from p2c.topics import CRM_ACCOUNTS, ERP_CUSTOMERS


def build(bootstrap: str, registry_url: str, target_topic: str, app_id: str) -> faust.App:
    app = faust.App(
        app_id,
        broker=broker_urls(bootstrap),
        store="memory://",
        key_serializer="raw",
        value_serializer="raw",
        consumer_auto_offset_reset="earliest",
        producer_linger=0.02,  # as p2c's app: the baseline is not handicapped by tiny produce requests
        autodiscover=False,
        web_enabled=False,
        datadir=tempfile.mkdtemp(prefix=f"{app_id}-"),  # Faust's default is a folder in the working directory
    )
    client = SchemaRegistryClient({"url": registry_url})
    decode = AvroDeserializer(client)
    encode = AvroSerializer(
        client,
        json.dumps(schemas.load(ERP_CUSTOMERS.name)),
        conf={
            "auto.register.schemas": False,
            "subject.name.strategy": lambda ctx, name: ERP_CUSTOMERS.subject,
        },
    )
    source_ctx = SerializationContext(CRM_ACCOUNTS.name, MessageField.VALUE)
    target_ctx = SerializationContext(ERP_CUSTOMERS.name, MessageField.VALUE)
    flow = MappingFlow(loader.load("accounts"))
    target = app.topic(target_topic)

    @app.agent(app.topic(CRM_ACCOUNTS.name))
    async def naive(stream: Any) -> None:
        async for event in stream.events():
            change = decode(event.message.value, source_ctx)
            for write in flow.handle(change, None).writes:
                await target.send(key=write.key.encode(), value=encode(write.value, target_ctx))

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bootstrap-servers", required=True)
    parser.add_argument("--schema-registry-url", required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--app-id", required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    app = build(args.bootstrap_servers, args.schema_registry_url, args.target, args.app_id)

    @app.on_rebalance_complete.connect
    async def on_ready(sender: Any, /, *a: Any, **kw: Any) -> None:
        print(" ready: naive baseline consuming", flush=True)

    worker = faust.Worker(app, loglevel="WARNING", quiet=True, override_logging=False, redirect_stdouts=False)
    worker.spinner = None
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
