"""Replay requests: how one flow's consumer group is rewound at one stage while p2c keeps running.

Kafka changes a group's committed offsets from outside only while the group is empty, and the streams stage is
one group for every flow (the Faust app id): stopping it to rewind one flow would stop them all. So the
processes rewind themselves. ``p2c replay`` (and the control API) works out the offsets to start from and
publishes a :class:`Request` on ``p2c.replays``: the group, and per partition of the flow's topics the
offset. Every process consuming in that group (a streams worker, a sink) reads the topic from its end with a
:class:`Listener` of its own (no group), and for the partitions it owns at that moment seeks back, forgets what
it had buffered of them, commits the new position (so a restart or the next owner starts there too), and
answers with a :class:`Rewound` naming the partitions and where each starts now. The requester waits until
every partition was answered for (sending the request again for those that were not, e.g. during a
rebalance), then follows the group's committed offsets up to the ends the partitions had when it asked.

A process never moves a partition forward: the offset it starts from is the lower of the one asked and its
own position. A request is taken only by processes already running when it was published (and at most once
per partition): a process started later starts from the committed offsets, which are the rewound ones.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from confluent_kafka import OFFSET_END, Consumer, Producer, TopicPartition

from p2c.settings import KafkaSettings
from p2c.topics import REPLAYS

log = logging.getLogger("p2c.replays")

TP = tuple[str, int]
#: how old a request may be (by the requester's clock) and still be taken by a process that started after it
#: was sent: clocks of two machines disagree a little
SKEW_MS = 10_000
#: how long a listener's fetch may wait for a request. An idle `p2c up` has seven listeners (the worker, each sink
#: runner, each source), and each waiting librdkafka's default 500 ms cost the embedded broker 0.24 % of a core
#: (measured with ten); at 2 s, 0.04 %. The embedded broker answers a waiting fetch only when its wait is over,
#: so a request is taken up to 2 s later there (at once on Apache Kafka): nothing next to a replay.
LISTEN_FETCH_WAIT_MS = 2000


def _offsets_json(offsets: dict[TP, int]) -> list[list[Any]]:
    return [[t, p, o] for (t, p), o in sorted(offsets.items())]


def _offsets_of(doc: list[list[Any]]) -> dict[TP, int]:
    return {(str(t), int(p)): int(o) for t, p, o in doc}


@dataclass(frozen=True)
class Request:
    """Rewind ``group`` to ``offsets`` (per topic partition): a replay of ``flow`` at ``stage``."""

    id: str
    flow: str
    stage: str
    group: str
    offsets: dict[TP, int]
    at_ms: int

    def encode(self) -> bytes:
        doc = {"kind": "request", **self.__dict__, "offsets": _offsets_json(self.offsets)}
        return json.dumps(doc).encode()


@dataclass(frozen=True)
class Rewound:
    """A process of ``group`` rewound these partitions: each starts at its offset now."""

    id: str
    group: str
    member: str
    offsets: dict[TP, int]

    def encode(self) -> bytes:
        doc = {"kind": "rewound", **self.__dict__, "offsets": _offsets_json(self.offsets)}
        return json.dumps(doc).encode()


@dataclass(frozen=True)
class Resync:
    """Read these entity sets of ``flow`` in full again from the source system (``p2c resync``)."""

    id: str
    flow: str
    entity_sets: tuple[str, ...]
    at_ms: int

    def encode(self) -> bytes:
        return json.dumps({"kind": "resync", **self.__dict__, "entity_sets": list(self.entity_sets)}).encode()


@dataclass(frozen=True)
class Resyncing:
    """A source process (``member``: its metrics instance) took these entity sets of a :class:`Resync`."""

    id: str
    member: str
    entity_sets: tuple[str, ...]

    def encode(self) -> bytes:
        return json.dumps({"kind": "resyncing", **self.__dict__, "entity_sets": list(self.entity_sets)}).encode()


Record = Request | Rewound | Resync | Resyncing


def decode(data: bytes | None) -> Record | None:
    """A record of ``p2c.replays``; None for anything else (a record of a newer kind is not this one's)."""
    try:
        doc = json.loads(data or b"")
        kind = doc.get("kind")
        if kind == "resync":
            return Resync(doc["id"], doc["flow"], tuple(doc["entity_sets"]), int(doc["at_ms"]))
        if kind == "resyncing":
            return Resyncing(doc["id"], doc["member"], tuple(doc["entity_sets"]))
        offsets = _offsets_of(doc["offsets"])
        if kind == "request":
            return Request(doc["id"], doc["flow"], doc["stage"], doc["group"], offsets, int(doc["at_ms"]))
        if kind == "rewound":
            return Rewound(doc["id"], doc["group"], doc["member"], offsets)
    except (ValueError, KeyError, TypeError):
        log.warning("p2c.replays: a record that is not a replay request or answer, ignored")
    return None


def tail(kafka: KafkaSettings, name: str) -> Consumer:
    """A consumer of ``p2c.replays`` from its end, in no group (every process reads every request)."""
    from p2c.admin import ensure_topics

    ensure_topics(kafka, [REPLAYS])
    consumer = Consumer(
        kafka.librdkafka()
        | {"group.id": f"p2c-replays-{name}", "enable.auto.commit": False, "fetch.wait.max.ms": LISTEN_FETCH_WAIT_MS}
    )
    consumer.assign([TopicPartition(REPLAYS.name, 0, OFFSET_END)])
    return consumer


class Listener:
    """A process's ear for the replay requests of its consumer groups: non-blocking, call :meth:`pending` often."""

    def __init__(self, kafka: KafkaSettings, groups: set[str], member: str) -> None:
        self.groups, self.member = groups, member
        self.started_ms = int(time.time() * 1000) - SKEW_MS
        self.consumer = tail(kafka, member)
        self.producer = Producer(kafka.producer())
        self.taken: set[tuple[str, str, int]] = set()

    def pending(self) -> list[Request]:
        """The requests for this process's groups published since it started, each partition once."""
        found = []
        while (msg := self.consumer.poll(0)) is not None:
            if msg.error() is not None:
                continue
            item = decode(msg.value())
            if isinstance(item, Request) and item.group in self.groups and item.at_ms >= self.started_ms:
                fresh = {tp: o for tp, o in item.offsets.items() if (item.id, *tp) not in self.taken}
                if fresh:
                    found.append(Request(item.id, item.flow, item.stage, item.group, fresh, item.at_ms))
        return found

    def rewound(self, request: Request, offsets: dict[TP, int]) -> None:
        """Say which partitions this process rewound, and where they start now."""
        self.taken.update((request.id, *tp) for tp in offsets)
        answer = Rewound(request.id, request.group, self.member, offsets)
        self.producer.produce(REPLAYS.name, key=request.id.encode(), value=answer.encode())
        self.producer.flush(10)
        log.info(
            "replay %s of %s (%s): rewound %s",
            request.id,
            request.flow,
            request.group,
            ", ".join(f"{t}[{p}]@{o}" for (t, p), o in sorted(offsets.items())),
        )

    def close(self) -> None:
        self.consumer.close()
        self.producer.flush(5)
