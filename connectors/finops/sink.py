"""The FinOps sink: per batch, dedupe by key, read the target's current versions, drop stale writes, hold back
what waits for a reference, then one ``$batch`` with one change set per record (one bad record fails alone).

    dedupe            keep the newest write per key (origin.version, then offset)
    read versions     GET <EntitySet>?cross-company=true&$filter=(k1 and k2) or ...&$select=keys,P2CSourceVersion
                      (the filter is chunked to keep URLs short)
    version guard     a write whose version is not newer than the target's is skipped: replays are no-ops
    references        a record whose customer or product is not in the ERP yet is held back (``holds``)
    children          a parent/child target reads the children of the batch's keys (quotation lines)
    $batch            PATCH existing keys, POST new ones, each writing P2CSourceVersion
    one more round    a POST that failed because the row appeared meanwhile, or a PATCH whose row vanished,
                      is planned again from fresh versions once; what still fails is rejected (dead letter)

A 429/5xx anywhere raises RetriableError: the runner retries the whole batch, and the version guard turns
what was already written into skips. Held records end the call with HeldBack, after the rest was written.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from p2c.connectors.base.sink import HeldBack, Sink, SinkRecord, WriteResult
from p2c.connectors.core.batch import BatchWriter, ChangeSet
from p2c.connectors.core.http import ODataClient
from p2c.connectors.core.pagination import NextLinkPaginator
from p2c.connectors.core.writes import Key, Write, dedupe, envelope, normalize, or_filters, origin_entity
from p2c.connectors.finops.holds import DependencyHold
from p2c.connectors.finops.targets import Target
from p2c.errors import ConfigurationError, RecordError, RetriableError

log = logging.getLogger("p2c.connectors.finops")


def parse_write(target: Target, record: SinkRecord, company: str) -> Write:
    fields, version, delete = envelope(record, target.entity_set)
    fields = target.prepare(fields, company)
    key = target.key_of(fields)
    missing = [f for f, v in zip(target.key_fields, key, strict=True) if not v]
    if missing:
        raise RecordError(f"key field {missing[0]} is empty", record_key=record.key, field=missing[0])
    return Write(record, key, fields, delete, version)


class FinOpsSink(Sink):
    def __init__(
        self,
        client: ODataClient,
        target: Target,
        *,
        company: str = "usmf",
        max_operations: int = 1000,
        hold: DependencyHold | None = None,
    ) -> None:
        self.client = client
        self.target = target
        self.company = company
        self.name = f"erp.{target.name}"
        self.batch = BatchWriter(client, max_operations)
        self.hold = hold or DependencyHold(client)

    def topics(self) -> list[str]:
        return [self.target.topic]

    def flow_of(self, record: SinkRecord) -> str:
        return self.target.flow_for(origin_entity(record))

    def close(self) -> None:
        self.client.close()

    # ---- reading the target ----------------------------------------------------------------------

    def current_versions(self, keys: Sequence[Key]) -> dict[Key, int | None]:
        """Normalized key -> stored version (None when the row exists without one); absent keys are new."""
        t = self.target
        select = ",".join((*t.key_fields, t.version_field))
        found: dict[Key, int | None] = {}
        paginator = NextLinkPaginator(self.client)
        for flt in or_filters([t.key_filter(k) for k in keys]):
            params = {"cross-company": "true", "$filter": flt, "$select": select}
            for page in paginator.pages(t.entity_set, params=params):
                for row in page.rows:
                    v = row.get(t.version_field)
                    found[normalize(t.row_key(row))] = None if v is None else int(v)
        return found

    # ---- planning and writing ----------------------------------------------------------------------

    @staticmethod
    def is_newer(w: Write, existing: dict[Key, int | None]) -> bool:
        k = normalize(w.key)
        stored = existing.get(k)
        return not (k in existing and stored is not None and stored >= w.version)

    def plan(self, writes: Sequence[Write], existing: dict[Key, int | None]) -> tuple[list[ChangeSet], list[Write]]:
        """Change sets for ``writes`` (all newer than the target); the ones with nothing to do are returned."""
        changesets: list[ChangeSet] = []
        skipped: list[Write] = []
        children = self.target.read_children(self.client, [w.key for w in writes if normalize(w.key) in existing])
        for w in writes:
            k = normalize(w.key)
            ops = self.target.operations(
                w.fields, w.key, w.version, delete=w.delete, exists=k in existing, children=children.get(k, [])
            )
            if ops:
                changesets.append(ChangeSet("/".join(w.key), ops, tag=w))
            else:
                skipped.append(w)
        return changesets, skipped

    def _round(
        self, writes: Sequence[Write], result: WriteResult, held: list[Write] | None
    ) -> list[tuple[Write, RecordError]]:
        existing = self.current_versions([w.key for w in writes])
        fresh = [w for w in writes if self.is_newer(w, existing)]
        result.skipped.extend(w.record for w in writes if not self.is_newer(w, existing))
        if held is not None and fresh:
            split = self.hold.split(self.target, fresh)
            fresh = split.ready
            held.extend(split.held)
            result.rejected.extend((w.record, err) for w, err in split.rejected)
        failed: list[tuple[Write, RecordError]] = []
        changesets, nothing = self.plan(fresh, existing) if fresh else ([], [])
        result.skipped.extend(w.record for w in nothing)
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
        held: list[Write] = []
        if writes:
            failed = self._round(writes, result, held)
            if failed:
                # The target may have changed under us (a row created or removed by someone else): plan the
                # failed ones again from fresh versions, once; what fails again is rejected for good.
                failed = self._round([w for w, _ in failed], result, None)
            result.rejected.extend((w.record, err) for w, err in failed)
        log.info(
            "wrote %d %s to %s in %d ms (%d skipped, %d rejected, %d held back)",
            len(result.written),
            self.target.name,
            self.target.entity_set,
            (time.monotonic() - started) * 1000,
            len(result.skipped),
            len(result.rejected),
            len(held),
        )
        if held:
            raise HeldBack(
                f"{len(held)} {self.target.name} wait for a customer or product",
                self.hold.retry_after,
                result,
                [w.record for w in held],
            )
        return result
