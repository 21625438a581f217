"""Holding back records whose references are not in the ERP yet.

A contact person names its customer; a quotation its customers and released products. The customer is written
concurrently by the customers sink (another consumer group), so a missing one is a dependency that is not there
*yet*. Per batch, the sink asks the ERP once per referenced entity set which of the referenced rows exist
(a chunked ``$filter`` on their keys), then:

    every reference present                 -> write the record now
    one missing, first seen < timeout ago   -> hold it (the sink raises HeldBack, retry_after ~0.5 s)
    one missing for ``timeout`` seconds     -> RecordError naming what is missing: dead letter

The other records of the batch are written at once. First-seen times are kept per record (topic, partition,
offset), in memory: after a restart a record gets a fresh ``timeout``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from p2c.connectors.core.http import ODataClient
from p2c.connectors.core.pagination import NextLinkPaginator
from p2c.connectors.core.writes import Write, normalize, or_filters
from p2c.connectors.finops.targets import COMPANY, Ref, Target
from p2c.errors import RecordError


@dataclass
class Split:
    ready: list[Write] = field(default_factory=list)
    held: list[Write] = field(default_factory=list)
    rejected: list[tuple[Write, RecordError]] = field(default_factory=list)


class DependencyHold:
    def __init__(
        self,
        client: ODataClient,
        timeout: float = 60.0,
        retry_after: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.timeout = timeout
        self.retry_after = retry_after
        self._clock = clock
        self._first_seen: dict[tuple[str, int, int], float] = {}
        self.lookups = 0

    def existing(self, refs: set[Ref]) -> set[Ref]:
        """The references among ``refs`` whose rows exist: one (chunked) GET per entity set."""
        by_set: dict[tuple[str, str], list[Ref]] = {}
        for ref in refs:
            by_set.setdefault((ref[0].entity_set, ref[0].key_field), []).append(ref)
        found: set[tuple[str, ...]] = set()
        paginator = NextLinkPaginator(self.client)
        for (entity_set, key_field), wanted in by_set.items():
            clauses = sorted({r[0].clause(r[1], r[2]) for r in wanted})
            self.lookups += 1
            for flt in or_filters(clauses):
                params = {"cross-company": "true", "$filter": flt, "$select": f"{COMPANY},{key_field}"}
                for page in paginator.pages(entity_set, params=params):
                    for row in page.rows:
                        found.add((entity_set, *normalize((str(row[COMPANY]), str(row[key_field])))))
        return {r for r in refs if (r[0].entity_set, *normalize((r[1], r[2]))) in found}

    def split(self, target: Target, writes: Sequence[Write]) -> Split:
        out = Split()
        needs = {_ident(w): list(target.refs(w.fields)) for w in writes if not w.delete}
        wanted = {r for refs in needs.values() for r in refs}
        present = self.existing(wanted) if wanted else set()
        now = self._clock()
        for w in writes:
            ident = _ident(w)
            missing = [r for r in needs.get(ident, []) if r not in present]
            if not missing:
                self._first_seen.pop(ident, None)
                out.ready.append(w)
                continue
            first = self._first_seen.setdefault(ident, now)
            if now - first < self.timeout:
                out.held.append(w)
                continue
            self._first_seen.pop(ident, None)
            ref, company, value = missing[0]
            others = f" (and {len(missing) - 1} more missing)" if len(missing) > 1 else ""
            reason = (
                f"{ref.what} {value!r} does not exist in company {company!r} ({ref.entity_set}); "
                f"waited {self.timeout:.0f} s for it{others}"
            )
            out.rejected.append((w, RecordError(reason, record_key=w.record.key, field=ref.field)))
        self._prune(now)
        return out

    def _prune(self, now: float) -> None:
        if len(self._first_seen) > 10_000:  # records of partitions this sink lost meanwhile
            self._first_seen = {k: t for k, t in self._first_seen.items() if now - t < 2 * self.timeout}


def _ident(w: Write) -> tuple[str, int, int]:
    return (w.record.topic, w.record.partition, w.record.offset)
