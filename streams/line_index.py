"""Quote lines deleted while the CRM source was down, re-keyed to their quote by a line -> quote index.

Quote lines are keyed by their quote (``_quoteid_value``), so a line and its quote share a partition and the
quotes flow's state. A delete carries only the line's id; the source knows its quote from the lines it read
(``connectors.dataverse.source._load_parents``), but a line deleted while the source was down is no longer
there to read after a restart: its delete is keyed by its own id and would never reach its quote.

The streams keep the index the source lost, in two agents of the quotes flow:

* **feed** (reads ``p2c.src.crm.quotedetails``): for each line it has not indexed yet, sends ``{"quote": id}``
  to ``p2c.quotes.line-index`` keyed by the line's id; an orphan delete (keyed by the line's own id, no quote
  in ``before``) goes there too, as ``{"orphan": change}``, so both meet in the index's partition, in order;
* **index** (reads ``p2c.quotes.line-index``, a compacted topic keyed by line id, and keeps a table of it):
  remembers each line's quote; an orphan delete is sent back to the quote lines' topic keyed by its quote,
  its ``before`` naming the quote (the quotes flow then drops the line), and the line is forgotten. An
  orphan whose line was never indexed cannot be placed: it is dead-lettered naming the line.

The quotes flow itself skips an orphan delete (:meth:`streams.quotes.QuotesFlow.on_change`).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

import faust
from faust.types import EventT

from p2c import topics
from p2c.errors import RecordError
from p2c.serde import Codecs, decode_key, deserialize_off_loop, serialize_off_loop
from p2c.streams.counters import FlowCounters
from p2c.streams.handling import handle_until_done, in_batches
from p2c.streams.join import codec
from p2c.streams.quotes import LINE, QUOTE, is_orphan_delete

log = logging.getLogger("p2c.streams.line_index")

#: lines whose index entry this worker sent lately: not sent again on each of their updates
REMEMBERED = 100_000


def entry_for(change: dict[str, Any], key: str | None) -> tuple[str, dict[str, Any]] | None:
    """(line id, index message) for one quote-line change; None when the index learns nothing from it."""
    row = change.get("after") or change.get("before") or {}
    line = row.get(LINE)
    if line is None:
        return None
    if is_orphan_delete(change, key):
        return str(line), {"orphan": change}
    if change.get("op") != "d" and row.get(QUOTE):
        return str(line), {"quote": str(row[QUOTE])}
    return None


def placed(change: dict[str, Any], quote: str) -> dict[str, Any]:
    """The orphan delete as the source would have sent it had it known the quote."""
    return {**change, "before": {**(change.get("before") or {}), QUOTE: quote}}


class LineIndexAgents:
    """The feed and index agents, the index table and topic, registered on ``app``."""

    def __init__(self, app: faust.App, codecs: Codecs, partitions: int, flow: str = "quotes") -> None:
        self.codecs, self.flow = codecs, flow
        self.counters = FlowCounters(flow)  # its dead letters are counted here, not published as events
        self.lines_topic = topics.CRM_QUOTEDETAILS.name
        self.lines = app.topic(self.lines_topic, partitions=partitions)
        self.index_topic = app.topic(
            topics.QUOTE_LINE_INDEX.name, partitions=partitions, internal=True, compacting=True
        )
        self.table = app.Table(f"{flow}-line-index", partitions=partitions, key_type=bytes, value_type=bytes)
        self.dlq = app.topic(topics.dead_letter(flow).name)
        self._sent: OrderedDict[str, str] = OrderedDict()
        app.agent(self.lines, name=f"streams.{flow}.line-index-feed", concurrency=1)(self.feed)
        app.agent(self.index_topic, name=f"streams.{flow}.line-index", concurrency=1)(self.index)

    async def feed(self, stream: faust.StreamT[Any]) -> None:
        await in_batches(stream, lambda event: self._until_done(event, self._feed_once))

    async def index(self, stream: faust.StreamT[Any]) -> None:
        await in_batches(stream, lambda event: self._until_done(event, self._index_once))

    async def _until_done(self, event: EventT[Any], once: Callable[[EventT[Any]], Awaitable[None]]) -> None:
        component = f"streams.{self.flow}.line-index"
        await handle_until_done(event, once, flow=self.flow, dlq=self.dlq, counters=self.counters, component=component)

    async def _feed_once(self, event: EventT[Any]) -> None:
        msg = event.message
        if msg.value is None:
            return
        key = decode_key(msg.key)
        change = await deserialize_off_loop(self.codecs[self.lines_topic], msg.value, key)
        entry = entry_for(change, key)
        if entry is None or self._sent.get(entry[0]) == entry[1].get("quote", "orphan"):
            return
        line, value = entry
        await self.index_topic.send(key=line.encode(), value=codec.dumps(value))
        if "quote" in value:
            self._sent[line] = value["quote"]
            self._sent.move_to_end(line)
            while len(self._sent) > REMEMBERED:
                self._sent.popitem(last=False)

    async def _index_once(self, event: EventT[Any]) -> None:
        msg = event.message
        if msg.value is None or msg.key is None:
            return
        line = decode_key(msg.key)
        entry = codec.loads(msg.value)
        if "quote" in entry:
            if self.table.get(msg.key) != entry["quote"].encode():
                self.table[msg.key] = entry["quote"].encode()
            return
        quote = self.table.get(msg.key)
        if quote is None:
            raise RecordError(
                "a deleted quote line whose quote p2c never saw: its quotation may keep the line; "
                "check the quote in the CRM and resync it",
                record_key=line,
                field=QUOTE,
            )
        change = placed(entry["orphan"], quote.decode())
        value = await serialize_off_loop(self.codecs[self.lines_topic], change, line)
        await self.lines.send(key=quote, value=value)
        self.table.pop(msg.key, None)
        log.info("%s: line %s deleted while the source was down: sent to its quote %s", self.flow, line, quote.decode())
