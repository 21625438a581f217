"""Table recovery that reads every changelog to its true end, on the embedded broker too.

Faust rebuilds a table by reading its changelog partitions up to the *highwaters* its consumer reports
(``faust.tables.recovery.Recovery._build_highwaters`` -> ``Consumer.highwaters()`` -> aiokafka's
``end_offsets()``, a ListOffsets(latest) request). The embedded broker (Tansu) answers ListOffsets with the
base offset of a partition's last record batch + 1, so when that batch holds several records (Faust's producer
batches changelog writes) recovery stops at its first record and the table loses the rest: measured, 200
known keys written in a burst, 6 to 8 lost after a restart, their deletes dead-lettered. The same too-low end
made Faust's recovery consistency check (a table's offset must not pass the highwater) crash a worker.

The high watermark carried in a Fetch response is right. So this module swaps in a consumer thread whose
``highwaters()`` asks :func:`p2c.offsets.end_offsets` (a fetch, in an executor: it blocks) for the changelog
topics, and falls back to ListOffsets only for a partition the fetch did not answer. Only table recovery asks
a consumer for highwaters, so nothing else changes. On Apache Kafka the fetched watermark equals what
ListOffsets reports: the same answer, from one short-lived consumer (~70 ms a rebalance, measured locally).

Faust has no public hook for where highwaters come from: the consumer thread that calls
:func:`fetched_highwaters` lives in :mod:`p2c.streams.faust_adapter`, with every other use of Faust's and
aiokafka's private parts.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Iterable

from faust.types import TP

from p2c.offsets import end_offsets
from p2c.settings import KafkaSettings

log = logging.getLogger("p2c.streams")


async def fetched_highwaters(kafka: KafkaSettings, partitions: Iterable[TP]) -> dict[TP, int]:
    """End offsets of ``partitions`` from a fetch (:func:`p2c.offsets.end_offsets`); a partition the fetch did not
    answer is left out."""
    wanted = list(partitions)
    topics = sorted({tp.topic for tp in wanted})
    if not topics:
        return {}
    loop = asyncio.get_running_loop()
    ends = await loop.run_in_executor(None, functools.partial(end_offsets, kafka, topics))
    return {tp: ends[(tp.topic, tp.partition)] for tp in wanted if ends.get((tp.topic, tp.partition), -1) >= 0}
