"""The Dataverse source: change tracking per declared stream.

Per entity set: a full load with ``Prefer: odata.track-changes`` (ops ``r``), paging by
``odata.maxpagesize`` and ``@odata.nextLink``, ends with an ``@odata.deltaLink``; then the delta link is
polled every ``poll_interval`` seconds, and every ``busy_poll_interval`` while its last poll brought changes
(``Source.poll_forever``). A checkpoint follows every page, so a crash re-sends at most a page.

Ops: a changed row is ``c`` when ``createdon`` equals ``modifiedon`` (never modified since it was created),
else ``u`` (a row created and then modified between two polls is a ``u``: consumers treat c and u alike, as
upserts). A ``$deletedEntity`` is ``d`` with ``before`` = the key only; its version is the change-tracking
number of the new delta token (or the highest version seen + 1), so it orders after every earlier change.
A delta link the service no longer accepts (4xx: expired token) means a full resync (WARNING, ops ``r``).

Position (stored by the runner under the connector name)::

    {"entities": {"accounts": {"delta": "<deltaLink>" | null, "next": "<nextLink>" | null,
                               "max_version": 1234}}}
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator
from typing import Any

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
from p2c.connectors.core.convert import to_millis
from p2c.connectors.core.http import ODataClient
from p2c.connectors.core.pagination import NextLinkPaginator, Page
from p2c.connectors.core.progress import LOAD_PROGRESS
from p2c.connectors.dataverse.reference import ReferenceData
from p2c.connectors.dataverse.streams import ANNOTATION, Stream
from p2c.errors import P2CError, RecordError

DATAVERSE_COUNT_LIMIT = 5000  # $count counts up to 5,000 rows: at the limit, the total is unknown
log = logging.getLogger("p2c.connectors.dataverse")

DELETED = "$deletedEntity"
_TOKEN_NUMBER = re.compile(r"[?&](?:\$|%24)deltatoken=(\d+)")


def now_ms() -> int:
    return int(time.time() * 1000)


def is_deleted(row: dict[str, Any]) -> bool:
    return DELETED in str(row.get("@odata.context", "")) or row.get("reason") == "deleted"


def token_number(link: str | None) -> int | None:
    match = _TOKEN_NUMBER.search(link or "")
    return int(match.group(1)) if match else None


class DataverseSource(Source):
    system = "crm"

    def __init__(
        self,
        client: ODataClient,
        streams: list[Stream],
        *,
        name: str = "crm",
        poll_interval: float = 1.0,
        busy_poll_interval: float | None = 0.2,
        idle_poll_interval: float | None = None,
        page_size: int = 5000,
        ignore_own_changes: bool | None = None,
        position_refresh: float = 300.0,
        reference: ReferenceData | None = None,
    ) -> None:
        super().__init__()
        self.client = client
        self.streams = streams
        self.name = name
        self.poll_interval = poll_interval
        self.busy_poll_interval = busy_poll_interval
        self.idle_poll_interval = idle_poll_interval
        self.page_size = page_size
        self.ignore_own_override = ignore_own_changes
        self.position_refresh = position_refresh
        self.reference = reference or ReferenceData(client)
        self.user_id: str | None = None
        self.state: dict[str, dict[str, Any]] = {}
        self._parents: dict[str, dict[str, str]] = {}  # per keyed-by-parent stream: row id -> parent id
        self._saved_at: dict[str, float] = {}

    # ---- plumbing ------------------------------------------------------------------------------

    def topics(self) -> list[str]:
        return [s.topic for s in self.streams]

    @property
    def headers(self) -> dict[str, str]:
        return {"Prefer": f'odata.track-changes,odata.maxpagesize={self.page_size},odata.include-annotations="*"'}

    def _checkpoint(self, note: str = "") -> Checkpoint:
        return Checkpoint({"entities": json.loads(json.dumps(self.state))}, note)

    def who_am_i(self) -> str:
        doc = self.client.get_json("WhoAmI")
        self.user_id = str(doc["UserId"]).lower()
        log.info("%s: connected to %s as user %s", self.name, self.client.base_url, self.user_id)
        return self.user_id

    def _ignores_own(self, stream: Stream) -> bool:
        return stream.ignore_own_changes if self.ignore_own_override is None else self.ignore_own_override

    # ---- rows -> events ------------------------------------------------------------------------

    def _resolve(self, stream: Stream, row: dict[str, Any]) -> dict[str, Any]:
        row = dict(row)
        for ref in stream.references:
            row[ref.field] = self.reference.resolve(ref.entity_set, ref.key, ref.value, row.get(ref.lookup))
        for ann in stream.annotations:
            row[ann.field] = row.get(f"{ann.lookup}{ANNOTATION}")
        return row

    def _envelope(self, stream: Stream, op: str, before: Any, after: Any, ts: int, version: int) -> dict[str, Any]:
        state = self.state.get(stream.entity_set, {})
        return {
            "op": op,
            "before": before,
            "after": after,
            "source": {
                "connector": self.name,
                "system": self.system,
                "entity": stream.entity_set,
                "company": None,
                "position": state.get("delta") or state.get("next"),
                "ts_ms": ts,
                "version": version,
            },
            "ts_ms": now_ms(),
        }

    def row_item(self, stream: Stream, row: dict[str, Any], op: str | None = None) -> SourceItem | None:
        """The event for one changed row (None when it is the integration's own change)."""
        row_id = str(row.get(stream.key) or "")
        if self._ignores_own(stream) and self.user_id and str(row.get("_modifiedby_value", "")).lower() == self.user_id:
            return None
        try:
            after = stream.converter.convert(self._resolve(stream, row), key=row_id)
            version = int(row["versionnumber"]) if row.get("versionnumber") is not None else None
            if version is None:
                raise RecordError("versionnumber is missing", record_key=row_id, field="versionnumber")
            ts = to_millis(row["modifiedon"]) if row.get("modifiedon") else now_ms()
        except (RecordError, ValueError) as exc:
            reason = exc.reason if isinstance(exc, RecordError) else str(exc)
            field = exc.field if isinstance(exc, RecordError) else None
            return Rejected(stream.flow, stream.topic, row_id, json.dumps(row, default=str).encode(), reason, field)
        key = row_id
        if stream.keyed_by_parent:
            parent = row.get(stream.event_key or "")
            key = str(parent) if parent else row_id
            self._parents.setdefault(stream.entity_set, {})[row_id] = key
        state = self.state.setdefault(stream.entity_set, {})
        state["max_version"] = max(int(state.get("max_version", 0)), version)
        if op is None:
            created, modified = row.get("createdon"), row.get("modifiedon")
            op = "c" if created and modified and to_millis(created) == to_millis(modified) else "u"
        return ChangeEvent(stream.topic, key, self._envelope(stream, op, None, after, ts, version), stream.flow)

    def delete_item(self, stream: Stream, row: dict[str, Any], delta_link: str | None) -> ChangeEvent:
        row_id = str(row.get("id") or row.get(stream.key) or "")
        before = dict.fromkeys(stream.converter.field_names)
        before[stream.key] = row_id
        key = row_id
        if stream.keyed_by_parent:
            parent = self._parents.get(stream.entity_set, {}).pop(row_id, None)
            if parent is None:
                log.warning(
                    "%s: deleted %s %s of an unknown parent: keyed by its own id", self.name, stream.entity_set, row_id
                )
            else:
                key = parent
                before[stream.event_key or ""] = parent
        state = self.state.setdefault(stream.entity_set, {})
        version = max(token_number(delta_link) or 0, int(state.get("max_version", 0)) + 1)
        state["max_version"] = version
        return ChangeEvent(stream.topic, key, self._envelope(stream, "d", before, None, now_ms(), version), stream.flow)

    # ---- full load and delta -------------------------------------------------------------------

    def _paginator(self) -> NextLinkPaginator:
        return NextLinkPaginator(self.client, self.headers)

    def full_load(self, stream: Stream, resume: str | None = None) -> Iterator[SourceItem]:
        state = self.state.setdefault(stream.entity_set, {})
        state.update(delta=None)
        started = time.monotonic()
        count = rejected = 0
        log.info("%s: full load of %s %s", self.name, stream.entity_set, "resumed" if resume else "started")
        LOAD_PROGRESS.started(stream.flow, stream.entity_set, self._count(stream))
        url = resume or stream.entity_set
        params = None if resume else {"$select": ",".join(stream.select)}
        try:
            for page in self._paginator().pages(url, params=params):
                for row in page.rows:
                    item = self.row_item(stream, row, op="r")
                    if item is not None:
                        LOAD_PROGRESS.advanced(stream.flow, stream.entity_set)
                        count += isinstance(item, ChangeEvent)
                        rejected += isinstance(item, Rejected)
                        yield item
                state.update(next=self._position(page.next_link), delta=self._position(page.delta_link))
                last = page.next_link is None
                yield self._checkpoint(
                    f"full load of {stream.entity_set} finished: {count} rows, {rejected} rejected, "
                    f"{time.monotonic() - started:.1f} s"
                    if last
                    else ""
                )
                if last:
                    LOAD_PROGRESS.finished(stream.flow, stream.entity_set)
                    log.info(
                        "%s: full load of %s finished: %d rows, %d rejected",
                        self.name,
                        stream.entity_set,
                        count,
                        rejected,
                    )
                    self._saved_at[stream.entity_set] = time.monotonic()
        except RecordError as exc:
            if not resume:
                raise
            log.warning(
                "%s: cannot resume the full load of %s (%s); starting it again",
                self.name,
                stream.entity_set,
                exc.reason,
            )
            state.update(next=None)
            yield from self.full_load(stream)

    def _position(self, link: str | None) -> str | None:
        """A next or delta link as stored and followed: relative to the service root (``ODataClient.relative``)."""
        return None if link is None else self.client.relative(link)

    def _delta_pages(self, link: str) -> Iterator[Page]:
        return self._paginator().pages(link)

    def _count(self, stream: Stream) -> int | None:
        """The rows of the entity set (``<set>/$count``), or None: Dataverse counts up to 5,000 only, and a
        count that fails must not stop the load it only measures."""
        try:
            n = int(self.client.request("GET", f"{stream.entity_set}/$count").text.strip())
        except (P2CError, ValueError) as exc:
            log.info("%s: no row count of %s (%s): the load's progress has no total", self.name, stream.entity_set, exc)
            return None
        return n if n < DATAVERSE_COUNT_LIMIT else None

    def entity_sets(self) -> list[str]:
        return [s.entity_set for s in self.streams]

    def poll(self, stream: Stream) -> Iterator[SourceItem]:
        state = self.state.setdefault(stream.entity_set, {})
        if self.take_resync(stream.entity_set):
            log.info("%s: resync of %s asked: a full load", self.name, stream.entity_set)
            state.update(delta=None, next=None)
        LOAD_PROGRESS.polled(stream.flow, stream.entity_set)
        link = self._position(state.get("delta"))
        if not link:
            yield from self.full_load(stream, resume=self._position(state.get("next")))
            return
        changed = deleted = ignored = rejected = 0
        pages: list[Page] = []
        try:
            pages = list(self._delta_pages(link))
        except RecordError as exc:
            log.warning(
                "%s: delta link of %s no longer accepted (%s): full resync", self.name, stream.entity_set, exc.reason
            )
            state.update(delta=None, next=None)
            yield from self.full_load(stream)
            return
        new_link = pages[-1].delta_link if pages else None
        for page in pages:
            for row in page.rows:
                if is_deleted(row):
                    deleted += 1
                    yield self.delete_item(stream, row, new_link)
                    continue
                item = self.row_item(stream, row)
                if item is None:
                    ignored += 1
                elif isinstance(item, Rejected):
                    rejected += 1
                    yield item
                else:
                    changed += 1
                    yield item
        if new_link:
            state["delta"] = self._position(new_link)
        if changed or deleted or rejected:
            log.info(
                "%s: %s changed: %d upserts, %d deletes, %d rejected, %d own changes ignored",
                self.name,
                stream.entity_set,
                changed,
                deleted,
                rejected,
                ignored,
            )
        stale = time.monotonic() - self._saved_at.get(stream.entity_set, 0.0) >= self.position_refresh
        if changed or deleted or rejected or ignored or stale:
            self._saved_at[stream.entity_set] = time.monotonic()
            yield self._checkpoint()

    def _load_parents(self, stream: Stream) -> None:
        """After a restart, rebuild row id -> parent id so deletes of lines keep their quote's key."""
        table = self._parents.setdefault(stream.entity_set, {})
        paginator = NextLinkPaginator(self.client, {"Prefer": f"odata.maxpagesize={self.page_size}"})
        for page in paginator.pages(stream.entity_set, params={"$select": f"{stream.key},{stream.event_key}"}):
            for row in page.rows:
                if row.get(stream.key) and row.get(stream.event_key or ""):
                    table[str(row[stream.key])] = str(row[stream.event_key or ""])

    def changes(self, position: Position | None) -> Iterator[SourceItem]:
        saved = (position or {}).get("entities", {})
        self.state = {s.entity_set: dict(saved.get(s.entity_set, {})) for s in self.streams}
        self.who_am_i()
        for stream in self.streams:
            if stream.keyed_by_parent and self.state[stream.entity_set].get("delta"):
                self._load_parents(stream)
        log.info(
            "%s: ready, polling %s every %.1f s (every %.1f s while a poll brings changes, every %.1f s after %.0f s "
            "without one)",
            self.name,
            ", ".join(s.entity_set for s in self.streams),
            self.poll_interval,
            min(self.poll_interval, self.busy_poll_interval or self.poll_interval),
            idle_pace(self.poll_interval, self.idle_poll_interval),
            QUIET_BEFORE_IDLE_S,
        )
        yield from self.poll_forever(
            self.streams, self.poll, self.poll_interval, self.busy_poll_interval, self.idle_poll_interval
        )

    def close(self) -> None:
        self.client.close()
