"""The FinOps sink: per batch, dedupe by key, find the target rows, drop stale writes, hold back what waits
for a reference, then ``$batch`` requests with one change set per record (one bad record fails alone).

    dedupe            keep the newest write per key (origin.version, then offset)
    locate            GET <EntitySet>?cross-company=true&$filter=(k1 and k2) or ...&$select=<key fields>
                      (chunked to keep URLs short): which keys exist, and the row to address (contact persons)
    version guard     a write whose version is not newer than the one applied (the sink's version store,
                      on p2c's side) is skipped: replays are no-ops, an older write never wins; but an upsert
                      at the applied version whose row the ERP no longer has (removed by hand, a quotation
                      line deleted) is written again (``Target.lost``): a replay restores it
    references        a record whose customer or product is not in the ERP yet is held back (``holds``)
    children          a parent/child target reads the children of the batch's keys (quotation lines)
    $batch            PATCH existing keys, POST new ones; at most ``max_operations`` parts a request
    isolate           a change set FinOps rejects with 4xx fails; one it answers 5xx (FinOps's business
                      errors can come back as 500, the Infolog in ``innererror``) is sent up to
                      ``retry_budget`` times, last in its request so the others get through, then fails with
                      FinOps's message; change sets after a failed one that FinOps did not run (it stops at
                      the first failure) are sent again at once
    one more round    what failed is planned again from a fresh look once (a POST that lost a race to a row
                      created meanwhile becomes a PATCH); what fails again is rejected (dead letter)
    record versions   the versions of what the ERP acknowledged go to the version store

A 429 or a failed request as a whole raises RetriableError: the runner retries the batch, and the version
store turns what was already written into skips. Held records end the call with HeldBack, after the rest.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from p2c.connectors.base.sink import NOT_NEWER, SUPERSEDED, HeldBack, Sink, SinkRecord, WriteResult
from p2c.connectors.core.batch import ODATA_DEFAULT_PARTS, BatchWriter, ChangeSet, ChangeSetResult
from p2c.connectors.core.errors import error_message, field_named
from p2c.connectors.core.http import ODataClient
from p2c.connectors.core.versions import VersionStore
from p2c.connectors.core.writes import Key, Write, cleared, dedupe, envelope, normalize, origin_entity
from p2c.connectors.finops.holds import DependencyHold
from p2c.connectors.finops.targets import Row, Target
from p2c.errors import ConfigurationError, RecordError, RetriableError

log = logging.getLogger("p2c.connectors.finops")


def parse_write(target: Target, record: SinkRecord, company: str) -> Write:
    fields, version, delete = envelope(record, target.entity_set)
    fields = target.clear(target.prepare(fields, company), cleared(record))
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
        versions: VersionStore,
        *,
        company: str = "usmf",
        max_operations: int = ODATA_DEFAULT_PARTS,
        hold: DependencyHold | None = None,
        retry_budget: int = 3,
        retry_delay: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.target = target
        self.versions = versions
        self.company = company
        self.name = f"erp.{target.name}"
        self.batch = BatchWriter(client, max_operations)
        self.hold = hold or DependencyHold(client)
        self.retry_budget = retry_budget
        self.retry_delay = retry_delay
        self._sleep = sleep

    def topics(self) -> list[str]:
        return [self.target.topic]

    def flow_of(self, record: SinkRecord) -> str:
        return self.target.flow_for(origin_entity(record))

    def close(self) -> None:
        self.client.close()
        self.versions.close()

    # ---- planning ----------------------------------------------------------------------------------

    def plan(self, writes: Sequence[Write], rows: dict[Key, Row]) -> tuple[list[ChangeSet], list[Write]]:
        """Change sets for ``writes`` (all newer than applied); the ones with nothing to do are returned."""
        changesets: list[ChangeSet] = []
        nothing: list[Write] = []
        children = self.target.read_children(self.client, [w.key for w in writes if normalize(w.key) in rows])
        for w in writes:
            k = normalize(w.key)
            ops = self.target.operations(w.fields, w.key, delete=w.delete, row=rows.get(k), children=children.get(k))
            if ops:
                changesets.append(ChangeSet("/".join(w.key), ops, tag=w))
            else:
                nothing.append(w)
        return changesets, nothing

    # ---- sending, one failing record at a time -------------------------------------------------------

    def send(self, changesets: Sequence[ChangeSet]) -> tuple[list[Write], list[tuple[Write, RecordError]]]:
        """(written, failed) of ``changesets``; a failed record is worth one more plan from a fresh look."""
        written: list[Write] = []
        failed: list[tuple[Write, RecordError]] = []
        attempts: dict[int, int] = {}
        pending = list(changesets)
        while pending:
            again: list[ChangeSet] = []  # not run: FinOps stopped before them
            retry: list[ChangeSet] = []  # answered 5xx: last in the next request, so the rest get through
            for outcome in self.batch.send(pending):
                w: Write = outcome.changeset.tag
                err = outcome.error
                if err is None:
                    written.append(w)
                elif not outcome.answered:
                    again.append(outcome.changeset)  # FinOps stopped before it: not its fault
                elif isinstance(err, RecordError):
                    failed.append((w, err))
                elif isinstance(err, ConfigurationError):
                    raise err
                elif outcome.failure is not None and outcome.failure.status >= 500:
                    n = attempts[id(outcome.changeset)] = attempts.get(id(outcome.changeset), 0) + 1
                    if n < self.retry_budget:
                        retry.append(outcome.changeset)
                    else:
                        failed.append((w, self._gave_up(outcome, n)))
                else:  # throttled (429) or unreadable: the whole batch again, later
                    raise RetriableError(
                        f"{self.target.entity_set} {outcome.changeset.key}: {err}", getattr(err, "retry_after", None)
                    )
            if retry and not again:
                self._sleep(self.retry_delay)
            pending = again + retry
        return written, failed

    @staticmethod
    def _gave_up(outcome: ChangeSetResult, attempts: int) -> RecordError:
        failure = outcome.failure
        assert failure is not None
        w: Write = outcome.changeset.tag
        detail = error_message(failure.body)
        return RecordError(
            f"FinOps answered HTTP {failure.status} {attempts} times: {detail}",
            record_key=w.record.key,
            field=field_named(detail),
        )

    def _round(
        self, writes: Sequence[Write], result: WriteResult, held: list[Write] | None
    ) -> list[tuple[Write, RecordError]]:
        rows = self.target.locate(self.client, [w.key for w in writes])
        applied = self.versions.get(normalize(w.key) for w in writes)
        again = [w for w in writes if w.version == applied.get(normalize(w.key)) and not w.delete]
        lost = {id(w) for w in self.target.lost(self.client, again, rows)} if again else set()
        fresh = [w for w in writes if w.version > applied.get(normalize(w.key), -1) or id(w) in lost]
        if lost:
            log.info(
                "%d %s written before are gone from %s: written again",
                len(lost),
                self.target.name,
                self.target.entity_set,
            )
        skipped = (w.record for w in writes if w.version <= applied.get(normalize(w.key), -1) and id(w) not in lost)
        result.skip(skipped, NOT_NEWER)
        if held is not None and fresh:
            split = self.hold.split(self.target, fresh)
            fresh = split.ready
            held.extend(split.held)
            result.rejected.extend((w.record, err) for w, err in split.rejected)
        changesets, nothing = self.plan(fresh, rows) if fresh else ([], [])
        result.skip((w.record for w in nothing), "nothing to change in the ERP")
        written, failed = self.send(changesets) if changesets else ([], [])
        result.written.extend(w.record for w in written)
        self.versions.put({normalize(w.key): w.version for w in [*written, *nothing]})
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
        result.skip((w.record for w in superseded), SUPERSEDED)
        held: list[Write] = []
        if writes:
            failed = self._round(writes, result, held)
            if failed:
                # The target may have changed under us (a row created or removed by someone else): plan the
                # failed ones again from a fresh look, once; what fails again is rejected for good.
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
