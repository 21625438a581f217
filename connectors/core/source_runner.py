"""Runs a Source: produces its events (Avro, keyed by row key) and stores its position only after the
broker acknowledged every event before it (delivery callbacks + flush). A crash re-sends at most what was
yielded since the last checkpoint (a page), never loses an event: at-least-once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from confluent_kafka import KafkaError, Message, Producer

from p2c.connectors.base.source import ChangeEvent, Checkpoint, Rejected, Source
from p2c.connectors.core.metrics import DEAD_LETTERED, IN, METRICS, Counters, Reporter
from p2c.connectors.core.positions import KafkaPositionStore
from p2c.deadletter import DeadLetter
from p2c.errors import ConfigurationError, RecordError, RetriableError

if TYPE_CHECKING:
    from p2c.serde import Codecs

log = logging.getLogger("p2c.connectors.source")


class SourceRunner:
    def __init__(
        self,
        source: Source,
        producer: Producer,
        codecs: Codecs,
        store: KafkaPositionStore,
        *,
        metrics: Counters = METRICS,
        report_interval: float = 30.0,
        flush_timeout: float = 30.0,
        publish_counts: Callable[[], None] | None = None,
    ) -> None:
        """``publish_counts`` (``MetricsReporter.publish_before_commit``) is called before each position is stored:
        it raises ``RuntimeError`` when the counts could not be published, and the position is not stored."""
        self.source = source
        self.producer = producer
        self.codecs = codecs
        self.store = store
        self.metrics = metrics
        self.component = f"source.{source.name}"
        self.reporter = Reporter(self.component, metrics, report_interval)
        self.flush_timeout = flush_timeout
        self.publish_counts = publish_counts
        self._failures: list[KafkaError] = []
        self._pending = 0

    def _delivered(self, err: KafkaError | None, _msg: Message) -> None:
        if err is not None:
            self._failures.append(err)

    def _produce(
        self,
        topic: str,
        key: bytes | None,
        value: bytes,
        headers: list[tuple[str, str | bytes | None]] | None = None,
    ) -> None:
        while True:
            try:
                self.producer.produce(topic, key=key, value=value, headers=headers, on_delivery=self._delivered)
                break
            except BufferError:
                self.producer.poll(0.1)  # local queue full: let deliveries drain
        self._pending += 1
        self.producer.poll(0)

    def _dead_letter(self, rejected: Rejected) -> None:
        letter = DeadLetter.from_error(
            RecordError(rejected.reason, record_key=rejected.key, field=rejected.field),
            flow=rejected.flow,
            stage="source",
            key=rejected.key.encode() if rejected.key is not None else None,
            value=rejected.raw,
            topic=rejected.topic,
            partition=-1,
            offset=-1,
        )
        log.warning("dead-lettered %s row %s to %s: %s", rejected.topic, rejected.key, letter.topic, rejected.reason)
        self._produce(letter.topic, letter.key, letter.value or b"", list(letter.headers()))
        self.metrics.incr(rejected.flow, DEAD_LETTERED)

    def _event(self, event: ChangeEvent) -> None:
        try:
            value = self.codecs[event.topic].serialize(event.value, key=event.key)
        except RecordError as exc:
            raw = json.dumps(event.value, default=str).encode()
            self._dead_letter(Rejected(event.flow, event.topic, event.key, raw, exc.reason, exc.field))
            return
        self._produce(event.topic, event.key.encode(), value)
        self.metrics.incr(event.flow, IN)

    def _checkpoint(self, checkpoint: Checkpoint) -> None:
        remaining = self.producer.flush(self.flush_timeout)
        if remaining or self._failures:
            failures, self._failures = self._failures, []
            raise RetriableError(
                f"{self.source.name}: broker did not acknowledge {remaining or len(failures)} events "
                f"({failures[:1] or 'timeout'}); position not stored, resuming from the previous one"
            )
        if self.publish_counts is not None:
            try:
                self.publish_counts()
            except RuntimeError as exc:
                raise RetriableError(f"{exc}; position not stored, resuming from the previous one") from exc
        self.store.save(self.producer, self.source.name, checkpoint.position)
        if self._pending or checkpoint.note:
            log.info(
                "%s: position committed after %d events%s",
                self.source.name,
                self._pending,
                f" ({checkpoint.note})" if checkpoint.note else "",
            )
        self._pending = 0

    def run(self) -> None:
        """Run until the source stops; raises RetriableError for the caller to restart from the stored position."""
        position = self.store.load(self.source.name)
        log.info("%s: starting from %s", self.source.name, "its stored position" if position else "scratch")
        try:
            for item in self.source.changes(position):
                if isinstance(item, ChangeEvent):
                    self._event(item)
                elif isinstance(item, Rejected):
                    self._dead_letter(item)
                else:
                    self._checkpoint(item)
                self.reporter.tick()
        finally:
            self.producer.flush(self.flush_timeout)


def run_forever(runner: SourceRunner, backoff: float = 1.0, max_backoff: float = 30.0) -> None:
    """Restart ``runner`` after failures (the position store makes restarts cheap and safe), never crash-loop.

    A transient failure restarts it with a doubling delay. A query the service refuses (a 4xx that is no one
    record's fault: a RecordError or any other non-configuration error escaping the source) is logged at
    ERROR with what to do and retried at the longest delay, in this process: it keeps reporting and stops
    when asked, instead of exiting for its supervisor to restart it at once, again and again. A
    ConfigurationError still ends the process: a person has to fix a setting.
    """
    delay = backoff
    while not runner.source.stopped:
        try:
            runner.run()
            return
        except RetriableError as exc:
            log.warning("%s: %s; restarting in %.1f s", runner.source.name, exc, delay)
            if runner.source.wait(delay):
                return
            delay = min(max_backoff, delay * 2)
        except ConfigurationError:
            raise
        except Exception as exc:
            log.error(
                "%s: %s: %s; the service refused the query: check the entity's metadata and the source's "
                "settings; retrying in %.1f s",
                runner.source.name,
                type(exc).__name__,
                exc,
                max_backoff,
                exc_info=not isinstance(exc, RecordError),
            )
            if runner.source.wait(max_backoff):
                return
