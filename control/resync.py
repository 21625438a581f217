"""``p2c resync FLOW``: the running sources read the flow's entity sets in full again from the source systems.

Where a replay re-reads Kafka, a resync re-reads the systems: for a change topic whose retention dropped what a
target lost, or join values whose changelogs are gone (a new streams app id, a new cluster). Rows go out again
at their own versions (a CRM row's ``versionnumber``; an ERP snapshot's time), so the sinks skip what the target
has and write what it lost. The request goes on ``p2c.replays``; each source process takes the entity sets it
reads (connectors/core/resync.py), answers, and does a full load at its next poll; this follows their load
progress in ``p2c.metrics`` until every entity set is read.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Producer

from p2c.connectors.dataverse.streams import STREAMS as CRM_STREAMS
from p2c.connectors.finops.source import streams_for as erp_streams_for
from p2c.errors import RetriableError
from p2c.flows import FLOWS
from p2c.metrics import LOADS, read_snapshots
from p2c.replays import Resync, Resyncing, decode, tail
from p2c.settings import KafkaSettings
from p2c.topics import REPLAYS

#: how often a request nobody answered yet is sent again (a source that was restarting takes the next one)
ASK_AGAIN_S = 5.0


def entity_sets_of(flow: str) -> tuple[str, ...]:
    """The entity sets the sources read for ``flow`` (its change topics, and those it joins on as echoes)."""
    [declared] = [f for f in FLOWS if f.name == flow]
    names = {t.name for t in (*declared.sources, *declared.echoes)}
    crm = [s.entity_set for s in CRM_STREAMS.values() if s.topic in names]
    erp = [s.entity_set for s in erp_streams_for([]) if s.topic in names]
    return tuple(crm + erp)


@dataclass
class Progress:
    id: str
    flow: str
    state: str = "asking"  # asking -> reading -> done
    members: dict[str, list[str]] = field(default_factory=dict)  # source instance -> entity sets it reads
    loads: dict[str, dict[str, Any]] = field(default_factory=dict)  # entity set -> done, total, finished
    started: float = field(default_factory=time.time)
    finished: float | None = None

    @property
    def done(self) -> int:
        return sum(int(load.get("done") or 0) for load in self.loads.values())

    def as_json(self) -> dict[str, Any]:
        return {**self.__dict__, "done": self.done}


class ResyncRun:
    def __init__(
        self,
        kafka: KafkaSettings,
        flow: str,
        *,
        answer_timeout: float = 60.0,
        stall_timeout: float = 120.0,
        on_progress: Callable[[Progress], None] = lambda _: None,
    ) -> None:
        self.kafka, self.flow = kafka, flow
        self.entity_sets = entity_sets_of(flow)
        self.answer_timeout, self.stall_timeout = answer_timeout, stall_timeout
        self.on_progress = on_progress
        self.progress = Progress(uuid.uuid4().hex[:12], flow)
        self.at_ms = int(time.time() * 1000)

    def run(self) -> Progress:
        self._ask()
        self.progress.state = "reading"
        self._follow()
        self.progress.state, self.progress.finished = "done", time.time()
        self.on_progress(self.progress)
        return self.progress

    def _ask(self) -> None:
        """Publish the request until every entity set was taken by a running source."""
        consumer = tail(self.kafka, f"resync-{self.progress.id}")
        producer = Producer(self.kafka.producer())
        request = Resync(self.progress.id, self.flow, self.entity_sets, self.at_ms)
        taken: set[str] = set()
        deadline, asked = time.monotonic() + self.answer_timeout, 0.0
        try:
            while set(self.entity_sets) - taken:
                if time.monotonic() > deadline:
                    missing = ", ".join(sorted(set(self.entity_sets) - taken))
                    raise RetriableError(
                        f"no running source took the resync of {missing} within {self.answer_timeout:.0f} s: "
                        "is p2c running (`p2c status`)?"
                    )
                if time.monotonic() - asked >= ASK_AGAIN_S:
                    producer.produce(REPLAYS.name, key=request.id.encode(), value=request.encode())
                    producer.flush(10)
                    asked = time.monotonic()
                msg = consumer.poll(0.5)
                answer = None if msg is None or msg.error() is not None else decode(msg.value())
                if isinstance(answer, Resyncing) and answer.id == request.id:
                    self.progress.members[answer.member] = list(answer.entity_sets)
                    taken.update(answer.entity_sets)
                    self.on_progress(self.progress)
        finally:
            consumer.close()

    def _follow(self, poll: float = 1.0) -> None:
        """Until every entity set's full load that began after the request has finished."""
        last_change, last_done = time.monotonic(), -1
        while True:
            snapshots = read_snapshots(self.kafka)
            for member, entity_sets in self.progress.members.items():
                gauges = (snapshots.get(member) or {}).get("gauges", {})
                for flow_gauges in gauges.values():
                    for entity, load in (flow_gauges.get(LOADS) or {}).items():
                        if entity in entity_sets and (load.get("started_ms") or 0) >= self.at_ms - 1000:
                            self.progress.loads[entity] = load
            self.on_progress(self.progress)
            if len(self.progress.loads) == len(self.entity_sets) and all(
                load.get("finished_ms") for load in self.progress.loads.values()
            ):
                return
            if self.progress.done != last_done:
                last_change, last_done = time.monotonic(), self.progress.done
            elif time.monotonic() - last_change > self.stall_timeout:
                raise RetriableError(
                    f"the resync of {self.flow} made no progress for {self.stall_timeout:.0f} s "
                    "(a source restarted before it began? ask again); `p2c logs source-crm source-erp` says why"
                )
            time.sleep(poll)
