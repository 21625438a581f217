"""Dead letters as the control API, the console and ``p2c dlq`` see them: one code path for all three.

``entries`` reads the letters, what people did with them (p2c.dlq-state) and what got through since, and
classifies them (control/lifecycle.py). ``retry`` sends the newest open letter of a key back to the topic it
was read from, with a ``p2c.retry.of`` header naming the letter, and records where it went; ``discard`` puts a
letter aside with a person's note. Nothing here runs when nothing is dead-lettered.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition

from p2c.control import state
from p2c.control.letters import Letter, letter_id, parse_id, read_letters
from p2c.control.lifecycle import OPEN, RETRYABLE_STAGES, Entry, classify
from p2c.control.state import RETRIED
from p2c.errors import P2CError, RetriableError
from p2c.flows import FLOWS, NAMES, STREAMS_GROUP
from p2c.offsets import committed_offsets
from p2c.settings import KafkaSettings

log = logging.getLogger("p2c.control.deadletters")

RETRY_OF = "p2c.retry.of"


class NotFound(P2CError):
    """No dead letter has this id."""


class Refused(P2CError):
    """The letter is not in a state that allows this (a retry of a resolved letter, a discard without a note)."""


def stage_group(letter: Letter) -> str | None:
    """The consumer group that reads a letter's origin topic at its stage: the one whose progress tells
    whether a newer version of the key got through."""
    if letter.letter.stage == "streams":
        return STREAMS_GROUP
    if letter.letter.stage == "sink":
        for flow in FLOWS:
            for target, group in zip(flow.targets, flow.sink_groups, strict=True):
                if target.name == letter.letter.origin_topic:
                    return group
    return None


def passed_since(
    kafka: KafkaSettings, letters: Sequence[Letter], timeout: float = 10.0
) -> dict[tuple[str, int, str], list[int]]:
    """For the keys of ``letters``: the offsets on their origin partitions, after the letter, that the stage's
    consumer group has committed past (processed). Reads only from the oldest such letter to the commit."""
    wanted: dict[tuple[str, str, int], dict[str, int]] = defaultdict(dict)  # (group, topic, p) -> key -> offset
    for x in letters:
        group, (topic, partition, offset) = stage_group(x), x.origin
        if group is None or offset < 0:
            continue
        keys = wanted[(group, topic, partition)]
        keys[x.key] = min(keys.get(x.key, offset), offset)
    passed: dict[tuple[str, int, str], list[int]] = defaultdict(list)
    for (group, topic, partition), keys in wanted.items():
        done = committed_offsets(kafka, group, [(topic, partition)], timeout).get((topic, partition), -1)
        start = min(keys.values()) + 1
        if done <= start:
            continue
        for key, offset in _keys_between(kafka, topic, partition, start, done, timeout):
            if key in keys and offset > keys[key]:
                passed[(topic, partition, key)].append(offset)
    return passed


def _keys_between(
    kafka: KafkaSettings, topic: str, partition: int, start: int, end: int, timeout: float
) -> Iterable[tuple[str, int]]:
    consumer = Consumer(
        kafka.librdkafka() | {"group.id": "p2c-control", "enable.auto.commit": False, "enable.partition.eof": True}
    )
    try:
        consumer.assign([TopicPartition(topic, partition, start)])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for msg in consumer.consume(1000, timeout=0.2):
                error = msg.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        return
                    continue
                offset = msg.offset() or 0
                if offset >= end:
                    return
                yield (msg.key() or b"").decode(errors="replace"), offset
        raise RetriableError(f"reading {topic}[{partition}] from {start} to {end} took longer than {timeout:.0f} s")
    finally:
        consumer.close()


@dataclass
class RetryResult:
    id: str
    sent_to: str


class DeadLetters:
    """The dead letters of every flow, for the API, the console and the CLI."""

    def __init__(self, kafka: KafkaSettings) -> None:
        self.kafka = kafka

    def _read(self, flows: Iterable[str] | None) -> tuple[list[Letter], list[Entry]]:
        letters = read_letters(self.kafka, flows or NAMES)
        if not letters:
            return [], []
        docs = state.read_states(self.kafka)
        candidates = [x for x in letters if docs.get(x.id, {}).get("state") != state.DISCARDED]
        return letters, classify(letters, docs, passed_since(self.kafka, candidates))

    def entries(self, flows: Iterable[str] | None = None, states: Iterable[str] | None = None) -> list[Entry]:
        """Every dead letter of ``flows`` (default all) in ``states`` (default all), oldest first."""
        wanted = set(states or ())
        return [e for e in self._read(flows)[1] if not wanted or e.state in wanted]

    def get(self, id_: str) -> tuple[Letter, Entry]:
        flow = _flow_of(id_)
        letters, entries = self._read([flow])
        for x, entry in zip(letters, entries, strict=True):
            if x.id == id_:
                return x, entry
        raise NotFound(f"no dead letter {id_} (ids look like <flow>.<partition>.<offset>; see `p2c dlq list`)")

    def retry(self, ids: Sequence[str] = (), flows: Iterable[str] | None = None, by: str = "p2c") -> list[RetryResult]:
        """Send back the given letters, or every retryable one of ``flows``: the newest open letter per key."""
        if ids:
            chosen = [self._retryable(*self.get(i)) for i in ids]
        else:
            letters, entries = self._read(flows)
            chosen = [x for x, e in zip(letters, entries, strict=True) if e.retryable]
        if not chosen:
            return []
        docs = state.read_states(self.kafka)
        producer = Producer(self.kafka.producer())
        sent: dict[str, str] = {}

        def delivered(id_: str) -> Callable[[KafkaError | None, Message], None]:
            def report(err: KafkaError | None, msg: Message) -> None:
                if err is None:
                    sent[id_] = f"{msg.topic()}/{msg.partition()}/{msg.offset()}"

            return report

        for x in chosen:
            headers: list[tuple[str, str | bytes | None]] = [(RETRY_OF, x.id.encode())]
            producer.produce(
                x.letter.origin_topic,
                key=x.letter.key,
                value=x.letter.value,
                headers=headers,
                on_delivery=delivered(x.id),
            )
        producer.flush(30)
        done = [x for x in chosen if x.id in sent]
        fields = {"state": RETRIED, "by": by, "note": ""}
        if done:
            state.record(self.kafka, [(x.id, docs.get(x.id), fields | {"sent_to": sent[x.id]}) for x in done])
        results = [RetryResult(x.id, sent[x.id]) for x in done]
        log.info("retried %d dead letter(s) by %s: %s", len(results), by, ", ".join(r.id for r in results))
        if len(results) < len(chosen):
            raise RetriableError(
                f"the broker acknowledged {len(results)} of {len(chosen)} retries; retry the rest again"
            )
        return results

    @staticmethod
    def _retryable(x: Letter, entry: Entry) -> Letter:
        if entry.stage not in RETRYABLE_STAGES:
            raise Refused(
                f"{x.id} was dead-lettered by its source: fix the row in the source system, and its next "
                f"change is read again (or `p2c resync {x.flow}` reads the flow in full now)"
            )
        if entry.state != OPEN:
            raise Refused(f"{x.id} is {entry.state}, not open ({entry.why}); nothing to retry")
        if not entry.newest:
            raise Refused(f"{x.id} is not the newest letter of its key: {entry.why}")
        return x

    def discard(self, id_: str, note: str, by: str) -> Entry:
        """Put a letter aside for good, with a person's note saying why."""
        if not note.strip():
            raise Refused(f"say why {id_} is discarded: a note is required")
        x, entry = self.get(id_)
        if entry.state == state.DISCARDED:
            raise Refused(f"{id_} is already discarded ({entry.why})")
        docs = state.read_states(self.kafka)
        state.record(self.kafka, [(x.id, docs.get(x.id), {"state": state.DISCARDED, "by": by, "note": note.strip()})])
        log.info("discarded %s by %s: %s", x.id, by, note.strip())
        return self.get(id_)[1]


def _flow_of(id_: str) -> str:
    try:
        flow, _, _ = parse_id(id_)
    except ValueError:
        raise NotFound(f"{id_!r} is not a dead letter id (<flow>.<partition>.<offset>)") from None
    if flow not in NAMES:
        raise NotFound(f"no flow {flow!r} (flows: {', '.join(NAMES)})")
    return flow


__all__ = ["DeadLetters", "NotFound", "Refused", "RetryResult", "letter_id"]
