"""The FinOps source: released products by periodic snapshot, diffed per key against the last snapshot.

FinOps's business entities have no change column and OData has no change feed or tombstones, so on a
standard environment the only complete way to see creates, updates *and deletes* is to read the set and
compare. Each cycle (``poll_interval`` apart):

    read   ProductDefaultOrderSettings  $select dataAreaId,ItemNumber,IsSalesProcessingStopped   (paged)
           ReleasedProductsV2           $select dataAreaId,ItemNumber,SellStartDate,SellEndDate  (paged)
           CDSReleasedDistinctProducts  $select <the contract's fields>                          (paged)
           joined per (dataAreaId, ItemNumber) into one record, with ``Sellable`` derived by p2c
    diff   against the last snapshot (``snapshot.SnapshotStore``: a hash per key, on disk)
    emit   c / u / d events (r in the first full load), a page at a time; after the broker acknowledged a
           page (a checkpoint), that page becomes part of the last snapshot

Every event of a cycle carries the cycle's start time as its version, so the CRM sink never lets an older
cycle's write win. Memory holds one page of rows; the rest is in SQLite.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cached_property
from typing import Any

from p2c import flows, topics
from p2c.connectors.base.source import (
    QUIET_BEFORE_IDLE_S,
    ChangeEvent,
    Checkpoint,
    Position,
    Rejected,
    Source,
    SourceItem,
    idle_pace,
)
from p2c.connectors.core.convert import RowConverter, record_schema
from p2c.connectors.core.http import ODataClient
from p2c.connectors.core.pagination import NextLinkPaginator
from p2c.connectors.core.progress import LOAD_PROGRESS
from p2c.connectors.finops.snapshot import Difference, SnapshotStore
from p2c.connectors.finops.targets import odata_literal
from p2c.errors import RecordError

log = logging.getLogger("p2c.connectors.finops.source")

MAX_PAGE = 10_000
COMPANY = "dataAreaId"
ITEM = "ItemNumber"
EMPTY_YEAR = 1900  # FinOps's empty date is 1900-01-01


@dataclass(frozen=True)
class ErpStream:
    """The products stream: the entity set read for the rows, and the two it joins for sellability."""

    entity_set: str
    topic: str
    key_fields: tuple[str, ...]
    stopped_set: str = "ProductDefaultOrderSettings"
    stopped_field: str = "IsSalesProcessingStopped"
    dates_set: str = "ReleasedProductsV2"
    date_fields: tuple[str, str] = ("SellStartDate", "SellEndDate")

    @property
    def flow(self) -> str:
        """The flow its change topic feeds (``p2c.flows``): its dead letters and counters go there."""
        return flows.flow_of_source(self.topic)

    @cached_property
    def converter(self) -> RowConverter:
        return RowConverter.for_record(record_schema(self.topic, "after"))

    @cached_property
    def selected(self) -> list[str]:
        """What is read of ``entity_set``: the contract's fields that are not joined or derived."""
        joined = {self.stopped_field, *self.date_fields, "Sellable"}
        return [f for f in self.converter.field_names if f not in joined]

    def key_of(self, row: dict[str, Any]) -> str:
        return "|".join(str(row.get(f) or "") for f in self.key_fields)


STREAMS: dict[str, ErpStream] = {
    s.entity_set: s
    for s in (ErpStream("CDSReleasedDistinctProducts", topics.ERP_PRODUCTS.name, (COMPANY, "ProductNumber")),)
}


def streams_for(names: list[str]) -> list[ErpStream]:
    """The streams of these entity sets; none named: every stream whose change topic a flow reads."""
    if not names:
        return [s for s in STREAMS.values() if s.topic in {t.name for t in flows.SOURCE_TOPICS}]
    unknown = [n for n in names if n not in STREAMS]
    if unknown:
        raise KeyError(f"unknown entity sets {unknown}; known: {', '.join(STREAMS)}")
    return [STREAMS[n] for n in names]


def finops_date(value: Any) -> datetime | None:
    """A FinOps DateTimeOffset; None for its empty date (1900-01-01) or no value."""
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return None if parsed.year <= EMPTY_YEAR else parsed.astimezone(UTC)


def sellable(stopped: Any, start: datetime | None, end: datetime | None, today: date) -> bool:
    """Sales not stopped, and ``today`` within the sell dates (an empty date leaves that side open)."""
    if stopped == "Yes":
        return False
    return (start is None or start.date() <= today) and (end is None or today <= end.date())


def _item_key(row: dict[str, Any]) -> str:
    return f"{str(row.get(COMPANY) or '').lower()}|{str(row.get(ITEM) or '').lower()}"


class FinOpsSource(Source):
    system = "erp"

    def __init__(
        self,
        client: ODataClient,
        streams: list[ErpStream],
        store: SnapshotStore,
        *,
        name: str = "erp",
        company: str | None = None,
        poll_interval: float = 1.0,
        idle_poll_interval: float | None = None,
        page_size: int = 5000,
    ) -> None:
        super().__init__()
        self.client = client
        self.streams = streams
        self.store = store
        self.name = name
        self.company = company
        self.poll_interval = poll_interval
        self.idle_poll_interval = idle_poll_interval
        self.page_size = min(page_size, MAX_PAGE)
        self.cycles = 0

    def topics(self) -> list[str]:
        return [s.topic for s in self.streams]

    def entity_sets(self) -> list[str]:
        return [s.entity_set for s in self.streams]

    # ---- reading ------------------------------------------------------------------------------------

    def pages(self, entity_set: str, select: list[str]) -> Iterator[list[dict[str, Any]]]:
        params = {"cross-company": "true", "$select": ",".join(select)}
        if self.company:
            params["$filter"] = f"{COMPANY} eq {odata_literal(self.company)}"
        paginator = NextLinkPaginator(self.client, {"Prefer": f"odata.maxpagesize={self.page_size}"})
        for page in paginator.pages(entity_set, params=params):
            yield page.rows

    def read(self, stream: ErpStream, today: date) -> int:
        """Read the three entity sets into the store's current snapshot; returns the number of products."""
        self.store.begin()
        for rows in self.pages(stream.stopped_set, [COMPANY, ITEM, stream.stopped_field]):
            self.store.add_parts("stopped", [(_item_key(r), r.get(stream.stopped_field)) for r in rows])
        for rows in self.pages(stream.dates_set, [COMPANY, ITEM, *stream.date_fields]):
            self.store.add_parts("dates", [(_item_key(r), [r.get(f) for f in stream.date_fields]) for r in rows])
        count = 0
        for rows in self.pages(stream.entity_set, stream.selected):
            keys = [_item_key({**r, ITEM: r.get(ITEM) or r.get("ProductNumber")}) for r in rows]
            stopped = self.store.parts("stopped", keys)
            dates = self.store.parts("dates", keys)
            current = []
            for row, item in zip(rows, keys, strict=True):
                start, end = (finops_date(v) for v in dates.get(item, [None, None]))
                joined = {
                    **{k: v for k, v in row.items() if not k.startswith("@")},
                    stream.stopped_field: stopped.get(item),
                    stream.date_fields[0]: start.isoformat() if start else None,
                    stream.date_fields[1]: end.isoformat() if end else None,
                    "Sellable": sellable(stopped.get(item), start, end, today),
                }
                current.append((stream.key_of(row), joined))
            self.store.add_current(current)
            count += len(rows)
        return count

    # ---- events -------------------------------------------------------------------------------------

    def item(self, stream: ErpStream, diff: Difference, op: str, version: int) -> SourceItem:
        company, _, number = diff.key.partition("|")
        if diff.row is None:
            before = {name: None for name in stream.converter.field_names} | {COMPANY: company, "ProductNumber": number}
            after = None
        else:
            try:
                after = stream.converter.convert(diff.row, key=diff.key)
            except RecordError as exc:
                raw = json.dumps(diff.row, default=str).encode()
                return Rejected(stream.flow, stream.topic, diff.key, raw, exc.reason, exc.field)
            before = None
        value = {
            "op": op,
            "before": before,
            "after": after,
            "source": {
                "connector": self.name,
                "system": self.system,
                "entity": stream.entity_set,
                "company": company,
                "position": str(self.cycles),
                "ts_ms": version,
                "version": version,
            },
            "ts_ms": int(time.time() * 1000),
        }
        return ChangeEvent(stream.topic, diff.key, value, stream.flow)

    def cycle(self, stream: ErpStream) -> Iterator[SourceItem]:
        """One snapshot: read, diff, publish page by page, each page applied once acknowledged."""
        started = time.monotonic()
        version = int(time.time() * 1000)
        if self.take_resync(stream.entity_set):
            log.info("%s: resync of %s asked: every row is published again", self.name, stream.entity_set)
            self.store.forget()
        first = not self.store.loaded
        LOAD_PROGRESS.polled(stream.flow, stream.entity_set)
        count = self.read(stream, datetime.now(UTC).date())
        if first:  # the snapshot, read, knows its size: the full load's total
            LOAD_PROGRESS.started(stream.flow, stream.entity_set, count)
        self.cycles += 1
        sent = {"c": 0, "u": 0, "d": 0}
        for pages in (self.store.changed(self.page_size), self.store.deleted(self.page_size)):
            for page in pages:
                for diff in page:
                    sent[diff.op] += 1
                    if first:
                        LOAD_PROGRESS.advanced(stream.flow, stream.entity_set)
                    yield self.item(stream, diff, "r" if first and diff.op == "c" else diff.op, version)
                yield Checkpoint({"cycles": self.cycles, "version": version})
                if self.stopped:
                    return
                self.store.apply(page)
        if first:
            self.store.mark_loaded()
            LOAD_PROGRESS.finished(stream.flow, stream.entity_set)
            note = f"full snapshot of {stream.entity_set}: {count} products, {time.monotonic() - started:.1f} s"
            log.info("%s: %s", self.name, note)
            yield Checkpoint({"cycles": self.cycles, "version": version}, note)
        elif any(sent.values()):
            log.info(
                "%s: %s snapshot of %d products: %d created, %d updated, %d deleted (%.0f ms)",
                self.name,
                stream.entity_set,
                count,
                sent["c"],
                sent["u"],
                sent["d"],
                (time.monotonic() - started) * 1000,
            )

    def changes(self, position: Position | None) -> Iterator[SourceItem]:
        self.cycles = int((position or {}).get("cycles", 0))
        log.info(
            "%s: ready, a snapshot of %s of %s every %.1f s (every %.1f s after %.0f s without a change; last "
            "snapshot: %d products, in %s)",
            self.name,
            ", ".join(s.entity_set for s in self.streams),
            self.company or "every company",
            self.poll_interval,
            idle_pace(self.poll_interval, self.idle_poll_interval),
            QUIET_BEFORE_IDLE_S,
            self.store.size(),
            self.store.path,
        )
        yield from self.poll_forever(
            self.streams, self.cycle, self.poll_interval, idle_interval=self.idle_poll_interval
        )

    def close(self) -> None:
        self.client.close()
        self.store.close()
