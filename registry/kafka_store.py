"""The ``_schemas`` log in a Kafka topic of one partition.

Reading uses ``assign()`` at an explicit offset, never a consumer group: nothing is committed, every process
reads the whole topic, and there is no group join to wait for (Tansu holds joins for half the session
timeout). A background thread tails the partition and hands batches to the event loop, where the state is
applied: the state is only ever touched from the loop, so it needs no lock.

The tail reads with one of two consumers: a quick one (fetches held :data:`QUICK_WAIT_MS` at most) while the
registry writes or syncs or records arrive, and a slow one (:data:`IDLE_WAIT_MS`) after :data:`IDLE_AFTER_S`
of quiet. The embedded broker (Tansu) holds a fetch for its whole wait even when a record arrives, so the quick
wait is what a write waits to be read back; but answering twenty fetches a second kept Tansu at ~3 % of a core
in an idle ``p2c up``. librdkafka cannot change a consumer's wait, so the tail swaps consumers: it unassigns
one and assigns the other at the next offset to read (the first's pending fetch is dropped, and what it had
fetched but not handed over is read again). A write flags the tail before it produces, so the swap overlaps
the produce. Another registry's write reaches an idle one within a second (before, 50 ms); a write or a sync
in this one reads up to the end first, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import uuid
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from p2c.admin import new_topic
from p2c.registry import records
from p2c.registry.records import JSONDict, Record
from p2c.registry.store import Appended, Applier, Follower, Store, StoreError
from p2c.settings import KafkaSettings

log = logging.getLogger("p2c.registry")

DEFAULT_TOPIC = "_schemas"
_TIMEOUT = 10.0
#: the tail's fetch wait while the registry is busy: what a write waits to be read back on the embedded broker
QUICK_WAIT_MS = 50
#: the tail's fetch wait once quiet: 20x fewer fetches for the broker to answer
IDLE_WAIT_MS = 1000
#: how long without a write, a sync or a record before the tail reads with the slow consumer
IDLE_AFTER_S = 10.0


class KafkaStore(Store):
    def __init__(
        self,
        settings: KafkaSettings,
        topic: str = DEFAULT_TOPIC,
        timeout: float = _TIMEOUT,
        idle_after_s: float = IDLE_AFTER_S,
        idle_wait_ms: int = IDLE_WAIT_MS,
    ) -> None:
        self.settings = settings
        self.topic = topic
        self.timeout = timeout
        self.idle_after_s, self.idle_wait_ms = idle_after_s, idle_wait_ms
        self._partition = TopicPartition(topic, 0)
        self._follower: Follower | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._producer: Producer | None = None
        self._quick: Consumer | None = None
        self._slow: Consumer | None = None
        self._offsets: Consumer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # Until when the tail reads with the quick consumer; a float, set from the loop and read by the tail.
        self._busy_until = 0.0

    # -- lifecycle -----------------------------------------------------------------------------------------

    async def start(self, apply: Applier) -> int:
        self._loop = asyncio.get_running_loop()
        self._follower = Follower(apply)
        await asyncio.to_thread(self._ensure_topic)
        # One record in flight at a time (writes are serialised and flushed), so ordering needs no idempotent
        # producer, whose set-up costs half a second on the first write; a retried duplicate is harmless
        # because applying the same record twice changes nothing.
        self._producer = Producer(
            self.settings.producer(**{"linger.ms": 0, "enable.idempotence": False, "max.in.flight": 1})
        )
        conf = self.settings.librdkafka() | {
            # Required by librdkafka, never joined: partitions are assigned by hand and nothing committed.
            "group.id": f"p2c-registry-{uuid.uuid4()}",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
        }
        self._quick = Consumer(conf | {"fetch.wait.max.ms": QUICK_WAIT_MS})
        self._slow = Consumer(conf | {"fetch.wait.max.ms": self.idle_wait_ms})
        # Watermark queries get their own handle: on the tailing consumer they can block behind consume().
        self._offsets = Consumer(conf)
        start, end = await self._watermarks()
        self._busy()
        # An explicit offset (not OFFSET_BEGINNING) spares the consumer an offset lookup before its first fetch.
        first = start if start >= 0 else OFFSET_BEGINNING
        self._thread = threading.Thread(target=self._tail, args=(first,), name="registry-log", daemon=True)
        self._thread.start()
        await self._follower.wait(end - 1, max(self.timeout, 60.0))
        return end

    async def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 5.0)
        for consumer in (self._quick, self._slow, self._offsets):
            if consumer is not None:
                consumer.close()
        if self._producer is not None:
            await asyncio.to_thread(self._producer.flush, 5.0)

    def _ensure_topic(self) -> None:
        admin = AdminClient(self.settings.librdkafka())
        try:
            metadata = admin.list_topics(timeout=self.timeout)
        except KafkaException as exc:
            raise StoreError(f"cannot reach Kafka at {self.settings.bootstrap_servers}: {exc}") from exc
        if self.topic in metadata.topics and not metadata.topics[self.topic].error:
            return
        topic = new_topic(self.settings, self.topic, 1, len(metadata.brokers), state=True)
        try:
            admin.create_topics([topic], operation_timeout=self.timeout)[self.topic].result(self.timeout)
            log.info(
                "created topic %s (1 partition, %d replicas, %s)", self.topic, topic.replication_factor, topic.config
            )
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:  # another registry was quicker
                raise StoreError(f"cannot create topic {self.topic}: {exc}") from exc

    # -- reading --------------------------------------------------------------------------------------------

    def _busy(self) -> None:
        """Have the tail read with the quick consumer for the next ``idle_after_s``."""
        self._busy_until = time.monotonic() + self.idle_after_s

    def _tail(self, position: int) -> None:
        """Read from ``position`` on, handing batches to the loop, with the consumer that suits the moment."""
        assert self._quick is not None and self._slow is not None and self._loop is not None
        reading: Consumer | None = None
        while not self._stop.is_set():
            wanted = self._quick if time.monotonic() < self._busy_until else self._slow
            if wanted is not reading:
                if reading is not None:
                    reading.unassign()
                wanted.assign([TopicPartition(self.topic, 0, position)])
                reading = wanted
            try:
                # Block for the first message only, then take what is already there: consume() alone would
                # wait out its whole timeout for a full batch.
                first = reading.poll(0.1)
                messages = [] if first is None else [first, *reading.consume(num_messages=500, timeout=0)]
            except KafkaException as exc:
                log.warning("reading %s failed, retrying: %s", self.topic, exc)
                continue
            batch, last = self._decode(messages)
            if last >= 0:
                position = last + 1
                self._busy()
                self._loop.call_soon_threadsafe(self._deliver, batch, last)

    def _decode(self, messages: list[Any]) -> tuple[list[Record], int]:
        """The registry records among ``messages``, and the last offset read (-1 for none)."""
        batch: list[Record] = []
        last = -1
        for msg in messages:
            err, offset = msg.error(), msg.offset()
            if err is not None:
                if err.code() != KafkaError._PARTITION_EOF:
                    log.warning("reading %s: %s", self.topic, err)
                continue
            if offset is None:
                continue
            last = max(last, offset)
            record = records.decode(offset, msg.key(), msg.value())
            if record is None:
                log.warning("skipped offset %d of %s: not a registry record", offset, self.topic)
            else:
                batch.append(record)
        return batch, last

    def _deliver(self, batch: list[Record], last: int) -> None:
        if self._follower is not None:
            self._follower.deliver(batch)
            self._follower.advance(last)

    async def _watermarks(self) -> tuple[int, int]:
        """The partition's first offset and its end (the offset the next record will get)."""
        assert self._offsets is not None
        consumer = self._offsets

        def query() -> Any:
            return consumer.get_watermark_offsets(self._partition, timeout=self.timeout, cached=False)

        # A topic just created on a cluster has no leader for a moment (NOT_LEADER_FOR_PARTITION): retriable.
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                low, high = await asyncio.to_thread(query)
                return int(low), int(high)
            except KafkaException as exc:
                # A partition the client's metadata does not know yet (new topic, moved leader) is as passing;
                # librdkafka does not flag NOT_LEADER_FOR_PARTITION as retriable here (seen on a new _schemas).
                stale = exc.args[0].code() in (
                    KafkaError._UNKNOWN_PARTITION,
                    KafkaError.UNKNOWN_TOPIC_OR_PART,
                    KafkaError.NOT_LEADER_FOR_PARTITION,
                    KafkaError.LEADER_NOT_AVAILABLE,
                )
                if not (exc.args[0].retriable() or stale) or time.monotonic() > deadline:
                    raise StoreError(f"cannot read the end offset of {self.topic}: {exc}") from exc
                log.info("end offset of %s not available yet (%s); retrying", self.topic, exc.args[0].str())
                with contextlib.suppress(KafkaException):  # refresh the metadata; the next query tells
                    await asyncio.to_thread(consumer.list_topics, self.topic, 5.0)
                await asyncio.sleep(0.2)

    async def sync(self) -> None:
        assert self._follower is not None
        self._busy()
        _, end = await self._watermarks()
        await self._follower.wait(end - 1, self.timeout)

    # -- writing --------------------------------------------------------------------------------------------

    def _produce(self, key: JSONDict, value: JSONDict | None) -> int:
        assert self._producer is not None
        outcome: dict[str, Any] = {}
        done = threading.Event()

        def delivered(err: KafkaError | None, msg: Any) -> None:
            outcome["error"], outcome["offset"] = err, msg.offset() if err is None else None
            done.set()

        self._producer.produce(
            self.topic,
            key=records.encode(key),
            value=records.encode(value),
            partition=0,
            on_delivery=delivered,
        )
        self._producer.flush(self.timeout)
        # Another thread's flush may be the one running our callback: wait for it, not just for the queue.
        if not done.wait(self.timeout):
            raise StoreError(f"no delivery report from Kafka within {self.timeout} s")
        if outcome["error"] is not None:
            raise StoreError(f"writing to {self.topic} failed: {outcome['error']}")
        return int(outcome["offset"])

    async def append(self, key: JSONDict, value: JSONDict | None) -> Appended:
        assert self._follower is not None
        self._busy()
        offset = await asyncio.to_thread(self._produce, key, value)
        return Appended(offset, await self._follower.wait(offset, self.timeout))

    async def cluster_id(self) -> str | None:
        """The Kafka cluster id, for ``/v1/metadata/id``."""
        admin = AdminClient(self.settings.librdkafka())
        metadata = await asyncio.to_thread(admin.list_topics, timeout=self.timeout)
        return metadata.cluster_id
