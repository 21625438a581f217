"""Reading the source systems for a reconcile, with the sources' own code, into the spill.

A CRM entity set is read as the CRM source's full load reads it (``DataverseSource.full_load``: the stream's
``$select``, its reference lookups, paged by ``odata.maxpagesize``); the ERP's released products as the ERP
source's snapshot reads them (three entity sets joined, sellability derived) into a snapshot store of the
reconcile's own. Each event is encoded with its topic's Avro schema, so the flows later get exactly the values
the streams would (decimals at the schema's scale, timestamps as datetimes). Rows a source would dead-letter
are counted as rejected, with their reason.

Nothing here reads Kafka and nothing is sandbox-only: the same requests run against a real tenant.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import fastavro

from p2c import schemas
from p2c.connectors.base.source import ChangeEvent, Rejected, SourceItem
from p2c.connectors.core.http import ODataClient
from p2c.connectors.dataverse import streams as crm_streams
from p2c.connectors.dataverse.source import DataverseSource
from p2c.connectors.finops.snapshot import SnapshotStore
from p2c.connectors.finops.source import ErpStream, FinOpsSource
from p2c.connectors.finops.source import streams_for as erp_streams_for
from p2c.control.reconcile.spill import Spill

log = logging.getLogger("p2c.reconcile")

#: (stage, rows done, rows in all when known)
Progress = Callable[[str, int, int | None], None]
PAGE = 500


@cache
def parsed(topic: str) -> Any:
    return fastavro.parse_schema(schemas.load(topic))


def encode(topic: str, value: dict[str, Any]) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, parsed(topic), value)
    return out.getvalue()


def decode(topic: str, data: bytes) -> dict[str, Any]:
    value = fastavro.schemaless_reader(io.BytesIO(data), parsed(topic), parsed(topic))
    assert isinstance(value, dict)
    return value


def avro_round_trip(topic: str, value: dict[str, Any]) -> dict[str, Any]:
    """``value`` as a reader of ``topic`` gets it back."""
    return decode(topic, encode(topic, value))


class Rejects:
    """Rows a source or a flow cannot take (they are dead-lettered in the pipeline): counted, first few kept."""

    def __init__(self, keep: int = 20) -> None:
        self.keep = keep
        self.count = 0
        self.samples: list[dict[str, Any]] = []

    def add(self, flow: str, key: str | None, reason: str) -> None:
        self.count += 1
        if len(self.samples) < self.keep:
            self.samples.append({"flow": flow, "key": key, "reason": reason})


class SourceReader:
    """Reads each source topic's rows once per reconcile into ``spill``."""

    def __init__(
        self,
        spill: Spill,
        crm: Callable[[], ODataClient],
        erp: Callable[[], ODataClient],
        progress: Progress,
        rejects: Rejects,
        *,
        erp_company: str | None = None,
        page_size: int = 5000,
    ) -> None:
        self.spill, self.crm, self.erp, self.progress, self.rejects = spill, crm, erp, progress, rejects
        self.erp_company = erp_company
        self.page_size = page_size

    def read(self, topic: str) -> None:
        """The change events of ``topic`` as a full load would publish them (once per reconcile)."""
        if self.spill.loaded(topic):
            return
        crm = [s for s in crm_streams.STREAMS.values() if s.topic == topic]
        if crm:
            self._store(topic, f"CRM {crm[0].entity_set}", self._crm(crm[0]))
        else:
            [stream] = [s for s in erp_streams_for([]) if s.topic == topic]
            self._store(topic, f"ERP {stream.entity_set}", self._erp(stream))
        self.spill.mark_loaded(topic)

    def _store(self, topic: str, what: str, items: Iterator[SourceItem]) -> None:
        batch: list[tuple[str, str, bytes]] = []
        done = 0
        for item in items:
            if isinstance(item, Rejected):
                self.rejects.add(item.flow, item.key, f"{item.reason} (field {item.field})")
            elif isinstance(item, ChangeEvent):
                batch.append((item.topic, item.key, encode(item.topic, item.value)))
                if len(batch) >= PAGE:
                    self.spill.add_events(batch)
                    done += len(batch)
                    batch = []
                    self.progress(f"reading {what}", done, None)
        self.spill.add_events(batch)
        done += len(batch)
        self.progress(f"reading {what}", done, done)
        log.info("reconcile: read %d rows of %s for %s", done, what, topic)

    def _crm(self, stream: crm_streams.Stream) -> Iterator[SourceItem]:
        client = self.crm()
        try:
            # the integration's own changes are part of the state too: none is ignored
            source = DataverseSource(
                client, [stream], name="reconcile", page_size=self.page_size, ignore_own_changes=False
            )
            yield from source.full_load(stream)
        finally:
            client.close()

    def _erp(self, stream: ErpStream) -> Iterator[SourceItem]:
        client = self.erp()
        store = SnapshotStore(Path(self.spill.path).parent, "reconcile")
        try:
            source = FinOpsSource(client, [stream], store, name="reconcile", company=self.erp_company)
            source.read(stream, datetime.now(UTC).date())
            version = int(datetime.now(UTC).timestamp() * 1000)
            for page in store.changed(PAGE):  # the reconcile's own store is empty: every row is new
                for diff in page:
                    yield source.item(stream, diff, "r", version)
        finally:
            store.close()
            client.close()
