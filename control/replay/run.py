"""A replay of one flow at one stage, from asking to done (``p2c replay``, ``POST /api/replays``).

    plan       the stage's consumer groups and topics: ``streams``: the Faust app's group (one for every flow)
               and the flow's change topics; ``sink``: each of the flow's target topics with its sink's group.
               Per partition the offset to start from (``seek``), never past the group's committed offset.
    ask        a request per group on ``p2c.replays`` (``p2c.replays``); the running processes rewind the
               partitions they own and answer; asked again for partitions nobody answered for (a rebalance)
    follow     the groups' committed offsets, up to the ends the partitions had when asked: done

Replaying a change topic in the streams group replays it for every agent that reads it (accounts also feed
the contacts' and quotes' joins, whose providers answer again), and a sink group is a target's, which two
flows may share (customers): their writes come again too. Writes carry their versions, so what was applied
is skipped and what the target lost is written again.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition

from p2c.control.replay.seek import Fetcher, Start, first_at_or_after
from p2c.errors import ConfigurationError, RetriableError
from p2c.flows import by_name, sink_group
from p2c.offsets import committed_offsets, end_offsets
from p2c.replays import TP, Request, Rewound, decode, tail
from p2c.settings import KafkaSettings
from p2c.topics import REPLAYS

log = logging.getLogger("p2c.replay")

STAGES = ("streams", "sink")


@dataclass
class Progress:
    """What a replay has done so far: records to read again, read again, its state."""

    id: str
    flow: str
    stage: str
    start: str
    state: str = "planning"  # planning, rewinding, replaying, done, failed
    total: int = 0
    done: int = 0
    partitions: int = 0
    error: str | None = None
    started: float = field(default_factory=time.time)
    finished: float | None = None

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


def plan_groups(flow: str, stage: str, streams_group: str) -> dict[str, list[str]]:
    """Consumer group -> the topics a replay of ``flow`` at ``stage`` rewinds in it."""
    if stage not in STAGES:
        raise ConfigurationError(f"--stage {stage!r}: choose one of {', '.join(STAGES)}")
    declared = by_name(flow)
    if stage == "streams":
        return {streams_group: [t.name for t in declared.sources]}
    return {sink_group(t): [t.name] for t in declared.targets}


class Replay:
    def __init__(
        self,
        kafka: KafkaSettings,
        flow: str,
        start: Start,
        stage: str = "streams",
        *,
        streams_group: str = "p2c-streams",
        answer_timeout: float = 60.0,
        on_progress: Callable[[Progress], None] = lambda _p: None,
    ) -> None:
        self.kafka, self.start, self.answer_timeout, self.on_progress = kafka, start, answer_timeout, on_progress
        self.groups = plan_groups(flow, stage, streams_group)
        self.progress = Progress(uuid.uuid4().hex[:12], flow, stage, str(start))
        self.cancelled = threading.Event()

    # ---- plan ------------------------------------------------------------------------------------------

    def offsets(self) -> tuple[dict[str, dict[TP, int]], dict[TP, int]]:
        """Per group, where each partition starts; and each partition's end now."""
        topics = sorted({t for ts in self.groups.values() for t in ts})
        ends = end_offsets(self.kafka, topics)
        if not ends:
            raise ConfigurationError(f"no partitions for {', '.join(topics)}: has p2c been initialized (p2c init)?")
        consumer = Consumer(
            self.kafka.librdkafka()
            | {"group.id": "p2c-replay-seek", "enable.auto.commit": False, "enable.partition.eof": True}
            | {"fetch.wait.max.ms": 10}  # one record at a time: a fetch must not wait for more
        )
        try:
            starts: dict[str, dict[TP, int]] = {}
            for group, group_topics in self.groups.items():
                tps = [tp for tp in ends if tp[0] in group_topics]
                committed = committed_offsets(self.kafka, group, tps)
                starts[group] = {}
                for tp in tps:
                    low, _high = consumer.get_watermark_offsets(TopicPartition(*tp), timeout=10)
                    offset = self._start_of(consumer, tp, max(low, 0), ends[tp])
                    at = committed.get(tp, -1)
                    starts[group][tp] = offset if at < 0 else min(offset, at)  # never forward
            return starts, ends
        finally:
            consumer.close()

    def _start_of(self, consumer: Consumer, tp: TP, low: int, high: int) -> int:
        if self.start.earliest:
            return low
        if self.start.offset is not None:
            return min(max(self.start.offset, low), high)
        assert self.start.time_ms is not None
        return first_at_or_after(Fetcher(consumer, *tp), low, high, self.start.time_ms)

    # ---- ask, then follow ------------------------------------------------------------------------------

    def run(self) -> Progress:
        p = self.progress
        try:
            starts, ends = self.offsets()
            p.partitions = sum(len(offsets) for offsets in starts.values())
            p.total = _to_read(starts, ends)
            self._update("rewinding")
            rewound = self._ask(starts)
            p.total = _to_read(rewound, ends)
            self._update("replaying")
            self._follow(rewound, ends)
            self._update("done")
        except Exception as exc:
            p.error = str(exc)
            self._update("failed")
            raise
        finally:
            p.finished = time.time()
        return p

    def _update(self, state: str) -> None:
        self.progress.state = state
        log.info("replay %s of %s (%s): %s", self.progress.id, self.progress.flow, self.progress.stage, state)
        self.on_progress(self.progress)

    def _ask(self, starts: dict[str, dict[TP, int]]) -> dict[str, dict[TP, int]]:
        """Publish the requests; wait until every partition was rewound. Returns where each starts."""
        answers = tail(self.kafka, f"replay-{self.progress.id}")
        producer = Producer(self.kafka.producer())
        rewound: dict[str, dict[TP, int]] = {g: {} for g in starts}
        try:
            deadline = time.monotonic() + self.answer_timeout
            asked_at = 0.0
            while any(set(starts[g]) - set(rewound[g]) for g in starts):
                if time.monotonic() >= deadline or self.cancelled.is_set():
                    missing = sorted(f"{t}[{p}] ({g})" for g in starts for t, p in set(starts[g]) - set(rewound[g]))
                    raise RetriableError(
                        f"no running process took the replay of {', '.join(missing)} within "
                        f"{self.answer_timeout:.0f} s: is p2c running (p2c up, or its streams workers and sinks)?"
                    )
                if time.monotonic() - asked_at >= 5.0:  # again for what nobody answered (a rebalance)
                    for group, offsets in starts.items():
                        left = {tp: o for tp, o in offsets.items() if tp not in rewound[group]}
                        if left:
                            request = Request(
                                self.progress.id, self.progress.flow, self.progress.stage, group, left, _now_ms()
                            )
                            producer.produce(REPLAYS.name, key=request.id.encode(), value=request.encode())
                    producer.flush(10)
                    asked_at = time.monotonic()
                msg = answers.poll(0.2)
                if msg is None or msg.error() is not None:
                    continue
                answer = decode(msg.value())
                if isinstance(answer, Rewound) and answer.id == self.progress.id and answer.group in rewound:
                    rewound[answer.group].update(answer.offsets)
            return rewound
        finally:
            answers.close()

    def _follow(self, rewound: dict[str, dict[TP, int]], ends: dict[TP, int], poll: float = 0.5) -> None:
        """Wait until each group committed up to the ends the partitions had when the replay was asked."""
        while not self.cancelled.is_set():
            done = 0
            finished = True
            for group, starts in rewound.items():
                committed = committed_offsets(self.kafka, group, list(starts))
                for tp, start in starts.items():
                    at = max(start, committed.get(tp, -1))
                    done += min(at, ends[tp]) - start if ends[tp] > start else 0
                    finished = finished and at >= ends[tp]
            if done != self.progress.done or finished:
                self.progress.done = done
                self.on_progress(self.progress)
            if finished:
                return
            time.sleep(poll)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _to_read(starts: dict[str, dict[TP, int]], ends: dict[TP, int]) -> int:
    return sum(max(0, ends[tp] - start) for offsets in starts.values() for tp, start in offsets.items())
