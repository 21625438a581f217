"""A source process's ear for ``p2c resync``: a thread reading ``p2c.replays`` from its end for resync requests.

A request names a flow and its entity sets; the source takes those it reads (``Source.resync``: its next poll of
them is a full read), and answers which it took, so that the requester knows who does the work and whose load
progress (``p2c.metrics``) to follow.
"""

from __future__ import annotations

import logging
import threading
import time

from confluent_kafka import Producer

from p2c.connectors.base.source import Source
from p2c.replays import SKEW_MS, Resync, Resyncing, decode, tail
from p2c.settings import KafkaSettings
from p2c.topics import REPLAYS

log = logging.getLogger("p2c.connectors.resync")


class ResyncListener:
    def __init__(self, kafka: KafkaSettings, source: Source, member: str) -> None:
        self.source, self.member = source, member
        self.started_ms = int(time.time() * 1000) - SKEW_MS
        self.kafka = kafka
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="resync-listener", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        try:
            consumer = tail(self.kafka, f"resync-{self.member}")
        except Exception as exc:  # resyncs must never take a source down
            log.warning("%s: not listening for resync requests: %s", self.member, exc)
            return
        producer = Producer(self.kafka.producer())
        try:
            while not self._stop.is_set():
                msg = consumer.poll(0.5)
                if msg is None or msg.error() is not None:
                    continue
                request = decode(msg.value())
                if isinstance(request, Resync) and request.at_ms >= self.started_ms:
                    self.take(request, producer)
        finally:
            consumer.close()
            producer.flush(5)

    def take(self, request: Resync, producer: Producer) -> None:
        taken = self.source.resync(request.entity_sets)
        if not taken:
            return
        log.info("%s: resync %s of %s: %s read in full at the next poll", self.member, request.id, request.flow, taken)
        answer = Resyncing(request.id, self.member, tuple(taken))
        producer.produce(REPLAYS.name, key=request.id.encode(), value=answer.encode())
        producer.flush(10)
