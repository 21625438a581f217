"""The FinOps sink: per batch, dedupe by key, read the target's current versions, drop stale writes, then
one ``$batch`` with one change set per record (so one bad record fails alone).

    dedupe            keep the newest write per key (origin.version, then offset)
    read versions     GET <EntitySet>?cross-company=true&$filter=(k1 and k2) or ...&$select=keys,P2CSourceVersion
                      (the filter is chunked to keep URLs short)
    version guard     a write whose version is not newer than the target's is skipped: replays are no-ops
    $batch            PATCH existing keys, POST new ones, each writing P2CSourceVersion
    one more round    a POST that failed because the row appeared meanwhile, or a PATCH whose row vanished,
                      is planned again from fresh versions once; what still fails is rejected (dead letter)

A 429/5xx anywhere raises RetriableError: the runner retries the whole batch, and the version guard turns
what was already written into skips.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from connectors.base.sink import Sink, SinkRecord, WriteResult
from connectors.core.batch import BatchWriter, ChangeSet
from connectors.core.http import ODataClient
from connectors.core.pagination import NextLinkPaginator
from connectors.finops.targets import Key, Target, normalize
from p2c.errors import ConfigurationError, RecordError, RetriableError

log = logging.getLogger("p2c.connectors.finops")

MAX_FILTER_CHARS = 3000


@dataclass
class Write:
    record: SinkRecord
    key: Key
    fields: dict[str, Any]
    delete: bool
    version: int


def parse_write(target: Target, record: SinkRecord, company: str) -> Write:
    value = record.value
    try:
        fields = dict(value["record"])
        version = int(value["origin"]["version"])
        op = str(value["op"])
    except (KeyError, TypeError, ValueError) as exc:
        raise RecordError(f"not a write for {target.entity_set}: {exc}", record_key=record.key) from exc
    if not fields.get("dataAreaId") and "dataAreaId" in target.key_fields:
        fields["dataAreaId"] = company
    key = target.key_of(fields)
    missing = [f for f, v in zip(target.key_fields, key, strict=True) if not v]
    if missing:
        raise RecordError(f"key field {missing[0]} is empty", record_key=record.key, field=missing[0])
    return Write(record, key, fields, op == "DELETE", version)


def dedupe(writes: Sequence[Write]) -> tuple[list[Write], list[Write]]:
    """The newest write per key (origin.version, then offset), in first-seen order, and the superseded ones."""
    newest: dict[Key, Write] = {}
    superseded: list[Write] = []
    for w in writes:
        k = normalize(w.key)
        cur = newest.get(k)
        if cur is None or (w.version, w.record.offset) >= (cur.version, cur.record.offset):
            if cur is not None:
                superseded.append(cur)
            newest[k] = w
        else:
            superseded.append(w)
    return list(newest.values()), superseded


class FinOpsSink(Sink):
    def __init__(
        self, client: ODataClient, target: Target, *, company: str = "usmf", max_operations: int = 1000
    ) -> None:
        self.client = client
        self.target = target
        self.company = company
        self.name = f"erp.{target.name}"
        self.batch = BatchWriter(client, max_operations)

    def topics(self) -> list[str]:
        return [self.target.topic]

    def flow_of(self, record: SinkRecord) -> str:
        origin = record.value.get("origin") if isinstance(record.value, dict) else None
        return self.target.flow_for(origin.get("entity") if isinstance(origin, dict) else None)

    def close(self) -> None:
        self.client.close()

    # ---- reading the target's versions -----------------------------------------------------------

    def _filters(self, keys: Sequence[Key]) -> list[str]:
        chunks: list[str] = []
        current: list[str] = []
        size = 0
        for key in keys:
            clause = f"({self.target.key_filter(key)})"
            if current and size + len(clause) + 4 > MAX_FILTER_CHARS:
                chunks.append(" or ".join(current))
                current, size = [], 0
            current.append(clause)
            size += len(clause) + 4
        if current:
            chunks.append(" or ".join(current))
        return chunks

    def current_versions(self, keys: Sequence[Key]) -> dict[Key, int | None]:
        """Normalized key -> stored version (None when the row exists without one); absent keys are new."""
        t = self.target
        select = ",".join((*t.key_fields, t.version_field))
        found: dict[Key, int | None] = {}
        paginator = NextLinkPaginator(self.client)
        for flt in self._filters(keys):
            params = {"cross-company": "true", "$filter": flt, "$select": select}
            for page in paginator.pages(t.entity_set, params=params):
                for row in page.rows:
                    v = row.get(t.version_field)
                    found[normalize(t.key_of(row))] = None if v is None else int(v)
        return found

    # ---- planning and writing ----------------------------------------------------------------------

    def plan(self, writes: Sequence[Write], existing: dict[Key, int | None]) -> tuple[list[ChangeSet], list[Write]]:
        """Change sets for the writes that are newer than the target; the rest are skipped."""
        changesets: list[ChangeSet] = []
        skipped: list[Write] = []
        for w in writes:
            k = normalize(w.key)
            exists = k in existing
            stored = existing.get(k)
            ops = (
                []
                if exists and stored is not None and stored >= w.version
                else self.target.operations(w.fields, w.key, w.version, delete=w.delete, exists=exists)
            )
            if ops:
                changesets.append(ChangeSet("/".join(w.key), ops, tag=w))
            else:
                skipped.append(w)
        return changesets, skipped

    def _round(self, writes: Sequence[Write], result: WriteResult) -> list[tuple[Write, RecordError]]:
        existing = self.current_versions([w.key for w in writes])
        changesets, skipped = self.plan(writes, existing)
        result.skipped.extend(w.record for w in skipped)
        failed: list[tuple[Write, RecordError]] = []
        for outcome in self.batch.send(changesets) if changesets else []:
            w: Write = outcome.changeset.tag
            err = outcome.error
            if err is None:
                result.written.append(w.record)
            elif isinstance(err, RecordError):
                failed.append((w, err))
            elif isinstance(err, ConfigurationError):
                raise err
            else:
                raise RetriableError(
                    f"{self.target.entity_set} {outcome.changeset.key}: {err}", getattr(err, "retry_after", None)
                )
        return failed

    def write(self, batch: Sequence[SinkRecord]) -> WriteResult:
        started = time.monotonic()
        result = WriteResult()
        writes: list[Write] = []
        for record in batch:
            try:
                writes.append(parse_write(self.target, record, self.company))
            except RecordError as exc:
                result.rejected.append((record, exc))
        writes, superseded = dedupe(writes)
        result.skipped.extend(w.record for w in superseded)
        if writes:
            failed = self._round(writes, result)
            if failed:
                # The target may have changed under us (a row created or removed by someone else): plan the
                # failed ones again from fresh versions, once; what fails again is rejected for good.
                failed = self._round([w for w, _ in failed], result)
            result.rejected.extend((w.record, err) for w, err in failed)
        log.info(
            "wrote %d %s to %s in %d ms (%d skipped, %d rejected)",
            len(result.written),
            self.target.name,
            self.target.entity_set,
            (time.monotonic() - started) * 1000,
            len(result.skipped),
            len(result.rejected),
        )
        return result
