"""A reconcile from end to end: read the sources, work out what the flows would write, read the targets, compare.

Per flow (``p2c.flows``), in order, sharing what was read (accounts feed the contacts' and the quotes' joins;
``CustomersV3`` is written by two flows and read once):

1. the source topics it reads and the dependencies it joins on, read as the sources read them (``sources``);
2. the target records its own logic would write for them (``expected``);
3. the target tables, read through their APIs (``targets``);
4. per table: a record the flow would write that the target lacks is *missing*, one whose fields differ
   *differs* (``compare``), and a row the flow owns that it would not write, and that is not in the state a
   delete leaves, is *extra*.

Everything read goes to a SQLite file (``spill``), not memory; the report keeps at most ``limit``
differences (and counts the rest).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from p2c import flows, topics
from p2c.connectors.core.http import ODataClient
from p2c.control.reconcile import compare, targets
from p2c.control.reconcile.compare import Difference
from p2c.control.reconcile.expected import Expectations, load_templates
from p2c.control.reconcile.sources import Progress, Rejects, SourceReader, decode
from p2c.control.reconcile.spill import Spill
from p2c.control.reconcile.targets import Table
from p2c.flows import Flow
from p2c.streams.template import Template

log = logging.getLogger("p2c.reconcile")


@dataclass
class FlowReport:
    flow: str
    expected: int = 0  # target rows the flow would write
    differences: Counter[str] = field(default_factory=Counter)  # by kind
    skipped: Counter[str] = field(default_factory=Counter)  # by the flow's reason
    waiting: Counter[str] = field(default_factory=Counter)  # by what it waits on
    not_compared: list[str] = field(default_factory=list)  # fields the target's read does not return

    def as_json(self) -> dict[str, Any]:
        return {
            "flow": self.flow,
            "in_sync": not self.differences,
            "expected": self.expected,
            "differences": {kind: self.differences.get(kind, 0) for kind in compare.KINDS},
            "skipped": dict(self.skipped.most_common()),
            "waiting": dict(self.waiting),
            "not_compared": self.not_compared,
        }


@dataclass
class Report:
    flows: list[FlowReport] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)  # the first ``limit``
    rejected: Rejects = field(default_factory=Rejects)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(sum(f.differences.values()) for f in self.flows)

    @property
    def in_sync(self) -> bool:
        return self.total == 0

    def as_json(self) -> dict[str, Any]:
        return {
            "in_sync": self.in_sync,
            "total": self.total,
            "listed": len(self.differences),
            "flows": [f.as_json() for f in self.flows],
            "differences": [d.as_json() for d in self.differences],
            "rejected": {"count": self.rejected.count, "samples": self.rejected.samples},
            "seconds": round(self.seconds, 1),
        }


@dataclass(frozen=True)
class Systems:
    """How to reach the two systems (clients as the connectors build them) and the flows' legal entity."""

    crm: Callable[[], ODataClient]
    erp: Callable[[], ODataClient]
    company: str = "usmf"
    page_size: int = 5000


def _ignore(stage: str, done: int, total: int | None) -> None:
    return None


class Reconcile:
    def __init__(self, systems: Systems, *, progress: Progress = _ignore, limit: int = 10_000) -> None:
        self.systems, self.progress, self.limit = systems, progress, limit
        self.report = Report()
        self.spill = Spill()
        self.reader = SourceReader(
            self.spill, systems.crm, systems.erp, progress, self.report.rejected, page_size=systems.page_size
        )
        self._read_tables: set[str] = set()

    def run(self, names: list[str]) -> Report:
        started = time.monotonic()
        try:
            for name in names or list(flows.NAMES):
                self.report.flows.append(self._flow(flows.by_name(name)))
        finally:
            self.spill.close()
        self.report.seconds = time.monotonic() - started
        return self.report

    def _flow(self, flow: Flow) -> FlowReport:
        report = FlowReport(flow.name)
        for topic in (*flow.sources, *flow.joins):
            self.reader.read(topic.name)
        templates = load_templates(flow, self.systems.company)
        expectations = Expectations(flow, templates, self.spill, self.report.rejected, self.systems.company)
        expectations.run(self.progress)
        report.skipped, report.waiting = expectations.skipped, expectations.waiting
        report.expected = self.spill.count_expected(flow.name)
        for topic in flow.targets:
            for table in targets.tables_of(topic.name):
                template = targets.template_for(table, templates)
                readable = self._read(table)
                fields = [s.target for s in template.fields] if template else []
                report.not_compared += [f for f in fields if readable is not None and f not in readable]
                for difference in self._compare(flow, table, template, readable):
                    report.differences[difference.kind] += 1
                    if len(self.report.differences) < self.limit:
                        self.report.differences.append(difference)
        log.info("reconcile %s: %d expected, %s", flow.name, report.expected, dict(report.differences) or "in sync")
        return report

    def _read(self, table: Table) -> set[str] | None:
        """Read ``table`` into the spill once; the fields its rows have (None: every field asked for)."""
        if table.system == "crm":
            stream_topic = topics.CRM_PRODUCTS.name  # the CRM source's products stream: names resolved
            self.reader.read(stream_topic)
            fields = {f["name"] for f in targets_fields(stream_topic)}
            if table.entity_set not in self._read_tables:
                self.spill.add_actual(table.entity_set, self._crm_rows(table, stream_topic))
        else:
            fields = None
            if table.entity_set not in self._read_tables:
                self.spill.add_actual(table.entity_set, self._erp_rows(table))
        self._read_tables.add(table.entity_set)
        return fields

    def _crm_rows(self, table: Table, topic: str) -> Iterator[tuple[str, str | None, dict[str, Any]]]:
        for _topic, _key, value in self.spill.events([topic]):
            row = decode(topic, value).get("after")
            if row is not None:
                yield table.key(row), table.parent(row), row

    def _erp_rows(self, table: Table) -> Iterator[tuple[str, str | None, dict[str, Any]]]:
        fields = sorted({s.target for t in _all_templates(self.systems.company) for s in t.fields if _fills(t, table)})
        client = self.systems.erp()
        done = 0
        try:
            for row in targets.read_erp(client, table, fields, self.systems.company, self.systems.page_size):
                done += 1
                if done % 500 == 0:
                    self.progress(f"reading {table.entity_set}", done, None)
                yield table.key(row), table.parent(row), row
        finally:
            client.close()
        self.progress(f"reading {table.entity_set}", done, done)

    def _compare(
        self, flow: Flow, table: Table, template: Template | None, readable: set[str] | None
    ) -> Iterator[Difference]:
        skip = set(table.key_fields) | set(table.parent_fields)
        for _key, source_id, record, row in self.spill.pairs(flow.name, table.entity_set):
            label = table.label(record)
            if row is None:
                yield Difference(flow.name, table.entity_set, label, compare.MISSING, source_id)
                continue
            shown = {k: v for k, v in record.items() if readable is None or k in readable}
            fields = compare.field_differences(shown, row, skip=skip)
            if fields:
                yield Difference(flow.name, table.entity_set, label, compare.DIFFERS, source_id, fields)
        for _key, copies, row in self.spill.duplicates(table.entity_set):
            if self.spill.expected(flow.name, table.entity_set, table.key(row)):
                found = compare.FieldDifference("rows", 1, copies)
                yield Difference(flow.name, table.entity_set, table.label(row), compare.DUPLICATE, None, (found,))
        constants = targets.constants(template) if template else {}
        if not constants and not table.parent_fields:
            return  # nothing tells this flow's rows from rows written by others: no extras (docs/decisions.md)
        for _key, row in self.spill.unexpected(flow.name, table.entity_set):
            if compare.owned(row, constants) and not compare.retired(row, table.delete_state):
                yield Difference(flow.name, table.entity_set, table.label(row), compare.EXTRA)


def targets_fields(topic: str) -> list[dict[str, Any]]:
    """The fields of a change topic's row (the ``after`` record)."""
    from p2c.connectors.core.convert import record_schema

    fields: list[dict[str, Any]] = record_schema(topic, "after")["fields"]
    return fields


@cache
def _all_templates(company: str) -> list[Template]:
    return [t for flow in flows.FLOWS for t in load_templates(flow, company)]


def _fills(template: Template, table: Table) -> bool:
    return table.key_fields == tuple(template.key) and any(
        t.entity_set == table.entity_set for topic in [template.target_topic] for t in targets.tables_of(topic)
    )
