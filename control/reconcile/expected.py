"""What a flow would write for the rows its source has now: its own pure logic, fed as its agents feed it.

Each source row is a change event of a full load (op ``r``, as the sources publish it), given to the flow's
logic (``p2c.flows``: ``MappingFlow`` per template, or the joining flow's class) with no state, the way a fresh
worker sees it. A joining flow is then answered every dependency it follows from the dependency rows read
(an account's number, a product's number and whether it is externally maintained), as its join providers
would answer, and a dependency the source does not have is never answered (the record waits). So what the
flows skip (not routed, not active, not sellable, a write-in product) and what waits (a customer or product
not known) is taken from the code that decides it, and is neither expected nor a difference.

The target records that come out go through the target topic's Avro schema (as the sink reads them) and are
kept per target key, the newest version winning, as the sinks dedupe. A record the logic refuses
(RecordError) is counted as rejected: the pipeline dead-letters it.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from itertools import groupby
from typing import Any

from p2c.control.reconcile.sources import Progress, Rejects, avro_round_trip, decode
from p2c.control.reconcile.spill import Spill
from p2c.control.reconcile.targets import rows_of
from p2c.errors import RecordError
from p2c.flows import Flow
from p2c.streams import loader
from p2c.streams.emission import Write
from p2c.streams.flow import DELETE, MappingFlow
from p2c.streams.join.core import Answer, Step, Versioned, follows
from p2c.streams.join.specs import spec_for
from p2c.streams.template import Template

log = logging.getLogger("p2c.reconcile")

TopicWrite = tuple[str, Write]
#: flow, target, key, parent key, source id, version, record (``Spill.expect``)
Expected = tuple[str, str, str, str | None, str | None, int, dict[str, Any]]


def load_templates(flow: Flow, company: str) -> list[Template]:
    return [loader.load_declared(flow, name, company=company) for name in flow.templates]


def add_dependencies(spill: Spill, flow: Flow) -> None:
    """The join values of every dependency ``flow`` follows, from the change events read (as its provider)."""
    for topic in flow.joins:
        spec = spec_for(topic.name)
        if spill.loaded(f"deps:{spec.name}"):
            continue
        values = []
        for _topic, key, value in spill.events([topic.name]):
            dep, current = spec.extract(decode(topic.name, value), key)
            values.append((dep, current.version, current.value))
            if len(values) >= 1000:
                spill.add_deps(spec.name, values)
                values = []
        spill.add_deps(spec.name, values)
        spill.mark_loaded(f"deps:{spec.name}")


class Expectations:
    """Works out the target records of one flow into the spill; counts what it skips, waits on and rejects."""

    def __init__(self, flow: Flow, templates: list[Template], spill: Spill, rejects: Rejects, company: str) -> None:
        self.flow, self.templates, self.spill, self.rejects, self.company = flow, templates, spill, rejects, company
        logic = loader.logic_of(flow)
        self.mappings = [MappingFlow(t) for t in templates] if logic is MappingFlow else []
        self.joining = None if self.mappings else logic(*templates)
        self.skipped: Counter[str] = Counter()
        self.waiting: Counter[str] = Counter()
        self.sources = 0

    def run(self, progress: Progress) -> None:
        add_dependencies(self.spill, self.flow)
        events = self.spill.events([t.name for t in self.flow.sources])
        batch: list[Expected] = []
        for key, group in groupby(events, key=lambda e: e[1]):
            for topic, write in self._writes(key, list(group)):
                batch.extend(self._rows(topic, write))
            if len(batch) >= 1000:
                self.spill.expect(batch)
                batch = []
                progress(f"working out {self.flow.name}", self.sources, None)
        self.spill.expect(batch)
        progress(f"working out {self.flow.name}", self.sources, self.sources)

    def _rows(self, topic: str, write: Write) -> Iterator[Expected]:
        value = avro_round_trip(topic, write.value)
        origin = value["origin"]
        for table, row in rows_of(topic, value["record"], self.company):
            key = table.key(row)
            yield self.flow.name, table.entity_set, key, table.parent(row), origin["id"], origin["version"], row

    def _writes(self, key: str, events: list[tuple[str, str, bytes]]) -> list[TopicWrite]:
        """The last write per target key of one requester key's events (a row; a quote and its lines)."""
        out: dict[tuple[str, str], Write] = {}
        self.sources += len(events)
        steps = self._mapped(key, events) if self.mappings else self._joined(key, events)
        for topic, write in steps:
            if write.value["op"] == DELETE:
                out.pop((topic, write.key), None)
            else:
                out[(topic, write.key)] = write
        return [(topic, w) for (topic, _), w in out.items()]

    def _mapped(self, key: str, events: Iterable[tuple[str, str, bytes]]) -> Iterator[TopicWrite]:
        for topic, _key, value in events:
            change = decode(topic, value)
            for mapping in self.mappings:
                if mapping.template.source_topic != topic:
                    continue
                try:
                    outcome = mapping.handle(change, None, key)
                except RecordError as exc:
                    self.rejects.add(self.flow.name, key, str(exc))
                    continue
                if outcome.skipped:
                    self.skipped[outcome.skipped] += 1
                yield from ((mapping.template.target_topic, w) for w in outcome.writes)

    def _joined(self, key: str, events: Iterable[tuple[str, str, bytes]]) -> Iterator[TopicWrite]:
        assert self.joining is not None
        state: dict[str, Any] | None = None
        last = Step(None)
        for topic, _key, value in events:
            try:
                last = self.joining.on_change(topic, state, decode(topic, value), key)
            except RecordError as exc:
                self.rejects.add(self.flow.name, key, str(exc))
                continue
            state = last.state
            yield from last.writes
        answered: set[tuple[str, str]] = set()
        while pending := [(j, d) for j, deps in follows(state).items() for d in deps if (j, d) not in answered]:
            for join, dep in pending:
                answered.add((join, dep))
                found = self.spill.dep(join, dep)
                if found is None:
                    continue  # the provider never saw it: no answer, the record waits
                try:
                    last = self.joining.on_answer(state, Answer(join, dep, Versioned(found[0], found[1])))
                except RecordError as exc:
                    self.rejects.add(self.flow.name, key, str(exc))
                    continue
                state = last.state
                yield from last.writes
        if last.waiting_on:
            self.waiting.update(last.waiting_on.keys())
        elif last.skipped:
            self.skipped[last.skipped] += 1
