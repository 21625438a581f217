"""The thin agent every mapping flow shares: decode, call the pure flow, encode, send.

Per event, in order, one at a time per partition (agent concurrency 1; events come in batches,
:func:`streams.handling.in_batches`), so the order per key is kept:

1. decode the change (p2c.serde, Avro through the registry);
2. :meth:`MappingFlow.handle` with the row's memory (known target key, last version, last emission) from the
   flow's table;
3. encode every write first, then send them to the target topic keyed by the target key. A send hands
   the record to the producer, which keeps the order per partition; Faust flushes the producer before
   it commits the offset (at-least-once);
4. remember the row's new memory in the table (its changelog is co-partitioned with the change topic).

A RecordError at any step sends the ORIGINAL bytes to ``p2c.dlq.<flow>`` with the dead-letter headers,
logs one WARNING line and goes on. Any other error (the registry unreachable, say) is retried with backoff
on the same event, and dead-lettered only once it kept failing past the policy's budget
(:mod:`streams.handling`, :mod:`p2c.failures`): nothing is skipped, and no record stalls its partition.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import faust
from faust.types import EventT

from p2c.serde import Codecs, decode_key, deserialize_off_loop, serialize_off_loop
from p2c.streams.counters import FlowCounters
from p2c.streams.flow import MappingFlow
from p2c.streams.handling import handle_until_done, in_batches
from p2c.streams.join import codec
from p2c.topics import dead_letter

log = logging.getLogger("p2c.streams")

TOMBSTONE = "a tombstone after a delete (the delete was handled)"
NOTHING_NEW = "nothing new to write (a version already handled)"

PartitionsOf = Callable[[str], int]  # topic name -> its partition count


class FlowAgent:
    """One flow's agent, target and dead-letter topics, and known-key table, registered on ``app``."""

    def __init__(self, app: faust.App, flow: MappingFlow, codecs: Codecs, partitions: int) -> None:
        template = flow.template
        self.flow = flow
        self.counters = FlowCounters(flow.name)
        self.decoder = codecs[template.source_topic]
        self.encoder = codecs[template.target_topic]
        self.source = app.topic(template.source_topic, partitions=partitions)
        self.target = app.topic(template.target_topic)
        self.dlq = app.topic(dead_letter(flow.name).name)
        # source key -> the row's memory (streams.flow.Memory) as codec JSON (raw bytes, like the topics)
        self.known = app.Table(f"{flow.name}-known-keys", partitions=partitions, key_type=bytes, value_type=bytes)
        self.agent = app.agent(self.source, name=f"streams.{flow.name}", concurrency=1)(self.process)

    async def process(self, stream: faust.StreamT[Any]) -> None:
        await in_batches(stream, self.handle)

    async def handle(self, event: EventT[Any]) -> None:
        self.counters.events_in += 1
        await handle_until_done(
            event,
            self._handle_once,
            flow=self.flow.name,
            dlq=self.dlq,
            counters=self.counters,
            component=f"streams.{self.flow.name}",
        )

    async def _handle_once(self, event: EventT[Any]) -> None:
        raw_key: bytes | None = event.message.key
        if event.message.value is None:  # a tombstone after a delete: the delete itself was handled
            self.counters.skip(TOMBSTONE)
            return
        key = decode_key(raw_key)
        change = await deserialize_off_loop(self.decoder, event.message.value, key)
        stored = codec.loads(self.known.get(raw_key)) if raw_key is not None else None
        outcome = self.flow.handle(change, stored, key)
        encoded = [(w.key.encode(), await serialize_off_loop(self.encoder, w.value, key)) for w in outcome.writes]
        for target_key, value in encoded:
            await self.target.send(key=target_key, value=value)
        self.counters.written += len(encoded)
        if encoded:
            self.counters.events_written += 1
        else:
            self.counters.skip(outcome.skipped or NOTHING_NEW)
        if raw_key is not None and outcome.memory is not None and outcome.memory != stored:
            self.known[raw_key] = codec.dumps(outcome.memory)
