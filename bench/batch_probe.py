"""What a Faust-free stream stage would do, for bench/bench_streams.py: librdkafka in and out, in batches.

Not p2c's stage: the accounts mapping without its memory table or error policy, to measure the ceiling of the
design the note on issue 12 proposes. Per batch of up to 1,000 records: ``Consumer.consume`` (librdkafka
fetches and parses in C), decode with the codec of the worker (:class:`p2c.serde.TopicCodec`: compiled Avro),
p2c's pure :class:`MappingFlow`, encode, ``Producer.produce`` (librdkafka batches and sends in C), then one
commit per batch after the producer's ``flush``: at-least-once, like the worker.

    python bench/batch_probe.py --bootstrap-servers H:P --schema-registry-url URL --target TOPIC --group ID
"""

from __future__ import annotations

import argparse
import signal

from confluent_kafka import Consumer, Producer

from p2c.serde import Codecs
from p2c.settings import KafkaSettings, RegistrySettings
from p2c.streams import loader
from p2c.streams.flow import MappingFlow
from p2c.topics import CRM_ACCOUNTS, ERP_CUSTOMERS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bootstrap-servers", required=True)
    parser.add_argument("--schema-registry-url", required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--group", required=True)
    args = parser.parse_args()
    kafka = KafkaSettings(bootstrap_servers=args.bootstrap_servers)
    codecs = Codecs.from_settings(RegistrySettings(schema_registry_url=args.schema_registry_url))
    decoder, encoder = codecs[CRM_ACCOUNTS.name], codecs[ERP_CUSTOMERS.name]
    flow = MappingFlow(loader.load("accounts"))
    consumer = Consumer(kafka.consumer(args.group, **{"fetch.wait.max.ms": 100}))
    producer = Producer(kafka.producer(**{"linger.ms": 20}))
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    consumer.subscribe([CRM_ACCOUNTS.name], on_assign=lambda *_: print(" ready: probe consuming", flush=True))
    while not stopping:
        batch = consumer.consume(1000, 0.2)
        for message in batch:
            if message.error() or message.value() is None:
                continue
            for write in flow.handle(decoder.deserialize(message.value()), None).writes:
                producer.produce(args.target, key=write.key.encode(), value=encoder.serialize(write.value))
            producer.poll(0)
        if batch:
            producer.flush(30)
            consumer.commit(asynchronous=False)
    consumer.close()


if __name__ == "__main__":
    main()
