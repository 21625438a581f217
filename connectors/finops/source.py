"""The FinOps source: FinOps has no change feed over OData, so each declared entity set is polled with a
modified-time watermark and an overlap.

One poll, per entity set (``?cross-company=true``, or one company)::

    GET <set>?$filter=ModifiedDateTime ge <watermark - overlap>&$orderby=ModifiedDateTime,<key>&$top=<page>
    ... then again from the last row's ModifiedDateTime (keyset paging), until a page comes back short

Keyset paging, not ``$skip``/next links: a row modified while the pages are read moves to the end of the order,
which would shift an unchanged row out of a ``$skip`` page and lose it. A row is sent once per version
(key + ModifiedDateTime in ms): the keys and versions sent inside the overlap window are kept in the position
and dropped when they come again. The first poll reads everything (ops ``r``); then changes are ``u`` (the
entity has no creation time to tell a create from an update; consumers treat c and u alike). A row removed in
the ERP is not seen: the entity has no delete feed.

Position (stored by the runner under the connector name, after the broker acknowledged the events)::

    {"entities": {"CDSReleasedDistinctProducts": {"watermark": 1732412345678, "loaded": true,
                                                  "seen": {"usmf|P-1": 1732412345678, ...}}}}

Limitation: more than 10,000 rows with the very same ModifiedDateTime stall the keyset; they are logged.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from p2c import flows, topics
from p2c.connectors.base.source import ChangeEvent, Checkpoint, Position, Rejected, Source, SourceItem
from p2c.connectors.core.convert import RowConverter, record_schema, to_millis
from p2c.connectors.core.http import ODataClient
from p2c.connectors.finops.targets import odata_literal
from p2c.errors import RecordError

log = logging.getLogger("p2c.connectors.finops.source")

MAX_PAGE = 10_000


@dataclass(frozen=True)
class ErpStream:
    entity_set: str
    topic: str
    key_fields: tuple[str, ...]
    watermark: str = "ModifiedDateTime"

    @property
    def flow(self) -> str:
        """The flow its change topic feeds (``p2c.flows``): its dead letters and counters go there."""
        return flows.flow_of_source(self.topic)

    @cached_property
    def converter(self) -> RowConverter:
        return RowConverter.for_record(record_schema(self.topic, "after"))

    def key_of(self, row: dict[str, Any]) -> str:
        return "|".join(str(row.get(f) or "") for f in self.key_fields)


STREAMS: dict[str, ErpStream] = {
    s.entity_set: s
    for s in (ErpStream("CDSReleasedDistinctProducts", topics.ERP_PRODUCTS.name, ("dataAreaId", "ProductNumber")),)
}


def streams_for(names: list[str]) -> list[ErpStream]:
    """The streams of these entity sets; none named: every stream whose change topic a flow reads."""
    if not names:
        return [s for s in STREAMS.values() if s.topic in {t.name for t in flows.SOURCE_TOPICS}]
    unknown = [n for n in names if n not in STREAMS]
    if unknown:
        raise KeyError(f"unknown entity sets {unknown}; known: {', '.join(STREAMS)}")
    return [STREAMS[n] for n in names]


def iso_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class FinOpsSource(Source):
    system = "erp"

    def __init__(
        self,
        client: ODataClient,
        streams: list[ErpStream],
        *,
        name: str = "erp",
        company: str | None = None,
        poll_interval: float = 1.0,
        overlap_ms: int = 2000,
        page_size: int = 1000,
        position_refresh: float = 300.0,
    ) -> None:
        super().__init__()
        self.client = client
        self.streams = streams
        self.name = name
        self.company = company
        self.poll_interval = poll_interval
        self.overlap_ms = overlap_ms
        self.page_size = min(page_size, MAX_PAGE)
        self.position_refresh = position_refresh
        self.state: dict[str, dict[str, Any]] = {}
        self._saved_at: dict[str, float] = {}
        self.requests = 0

    def topics(self) -> list[str]:
        return [s.topic for s in self.streams]

    def _checkpoint(self, note: str = "") -> Checkpoint:
        return Checkpoint({"entities": json.loads(json.dumps(self.state))}, note)

    # ---- reading ---------------------------------------------------------------------------------

    def query(self, stream: ErpStream, since_ms: int | None, top: int) -> list[dict[str, Any]]:
        clauses = []
        if since_ms is not None:
            clauses.append(f"{stream.watermark} ge {iso_ms(since_ms)}")
        if self.company:
            clauses.append(f"dataAreaId eq {odata_literal(self.company)}")
        params = {
            "cross-company": "true",
            "$orderby": ",".join((stream.watermark, *stream.key_fields)),
            "$top": str(top),
            "$select": ",".join(stream.converter.field_names),
        }
        if clauses:
            params["$filter"] = " and ".join(clauses)
        self.requests += 1
        rows: list[dict[str, Any]] = self.client.get_json(stream.entity_set, params=params).get("value", [])
        return rows

    def row_item(self, stream: ErpStream, row: dict[str, Any], op: str) -> SourceItem | None:
        """The event for one row; None when this key + version was sent already."""
        state = self.state[stream.entity_set]
        key = stream.key_of(row)
        raw = row.get(stream.watermark)
        try:
            version = to_millis(raw) if raw else None
        except ValueError:
            version = None
        if version is None:
            return Rejected(
                stream.flow,
                stream.topic,
                key,
                json.dumps(row, default=str).encode(),
                f"{stream.watermark} is missing or not a time: {raw!r}",
                stream.watermark,
            )
        seen: dict[str, int] = state.setdefault("seen", {})
        if seen.get(key, -1) >= version:
            return None
        seen[key] = version
        state["watermark"] = max(int(state.get("watermark") or 0), version)
        try:
            after = stream.converter.convert(row, key=key)
        except RecordError as exc:
            raw_row = json.dumps(row, default=str).encode()
            return Rejected(stream.flow, stream.topic, key, raw_row, exc.reason, exc.field)
        value = {
            "op": op,
            "before": None,
            "after": after,
            "source": {
                "connector": self.name,
                "system": self.system,
                "entity": stream.entity_set,
                "company": row.get("dataAreaId"),
                "position": str(state["watermark"]),
                "ts_ms": version,
                "version": version,
            },
            "ts_ms": int(time.time() * 1000),
        }
        return ChangeEvent(stream.topic, key, value, stream.flow)

    def _prune(self, state: dict[str, Any]) -> None:
        low = int(state.get("watermark") or 0) - self.overlap_ms
        state["seen"] = {k: v for k, v in state.get("seen", {}).items() if v >= low}

    def poll(self, stream: ErpStream) -> Iterator[SourceItem]:
        state = self.state.setdefault(stream.entity_set, {})
        loading = not state.get("loaded")
        op = "r" if loading else "u"
        since = None if state.get("watermark") is None else int(state["watermark"]) - self.overlap_ms
        top, sent, started = self.page_size, 0, time.monotonic()
        while not self.stopped:
            rows = self.query(stream, since, top)
            page_sent = 0
            for row in rows:
                item = self.row_item(stream, row, op)
                if item is not None:
                    page_sent += 1
                    yield item
            sent += page_sent
            self._prune(state)
            if page_sent:
                yield self._checkpoint()
            if len(rows) < top:
                break
            last = to_millis(rows[-1][stream.watermark])
            if last == since:  # a full page of one timestamp: widen the page
                if top >= MAX_PAGE:
                    log.warning("%s: over %d %s rows modified at %s", self.name, MAX_PAGE, stream.entity_set, last)
                    break
                top = min(MAX_PAGE, top * 2)
            else:
                since, top = last, self.page_size
        if loading and not self.stopped:
            state["loaded"] = True
            note = f"full load of {stream.entity_set} finished: {sent} rows, {time.monotonic() - started:.1f} s"
            log.info("%s: %s", self.name, note)
            self._saved_at[stream.entity_set] = time.monotonic()
            yield self._checkpoint(note)
        elif sent:
            log.info("%s: %s changed: %d rows", self.name, stream.entity_set, sent)
            self._saved_at[stream.entity_set] = time.monotonic()
        elif time.monotonic() - self._saved_at.get(stream.entity_set, 0.0) >= self.position_refresh:
            self._saved_at[stream.entity_set] = time.monotonic()
            yield self._checkpoint()

    def changes(self, position: Position | None) -> Iterator[SourceItem]:
        saved = (position or {}).get("entities", {})
        self.state = {s.entity_set: dict(saved.get(s.entity_set, {})) for s in self.streams}
        log.info(
            "%s: ready, polling %s of %s every %.1f s (overlap %d ms)",
            self.name,
            ", ".join(s.entity_set for s in self.streams),
            self.company or "every company",
            self.poll_interval,
            self.overlap_ms,
        )
        yield from self.poll_forever(self.streams, self.poll, self.poll_interval)

    def close(self) -> None:
        self.client.close()
