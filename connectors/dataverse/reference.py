"""Reference data (currencies, units): loaded once per entity set, cached, reloaded on a miss.

A miss reloads the whole set at most once per ``min_reload`` seconds, so a dangling GUID cannot turn
every row into a request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from p2c.connectors.core.http import ODataClient
from p2c.connectors.core.pagination import NextLinkPaginator

log = logging.getLogger("p2c.connectors.dataverse")


class ReferenceData:
    def __init__(
        self, client: ODataClient, min_reload: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.client = client
        self.min_reload = min_reload
        self._clock = clock
        self._tables: dict[tuple[str, str, str], dict[str, str | None]] = {}
        self._loaded_at: dict[tuple[str, str, str], float] = {}
        self.loads = 0

    def _load(self, entity_set: str, key: str, value: str) -> None:
        table: dict[str, str | None] = {}
        paginator = NextLinkPaginator(self.client, {"Prefer": "odata.maxpagesize=5000"})
        for page in paginator.pages(entity_set, params={"$select": f"{key},{value}"}):
            for row in page.rows:
                if row.get(key) is not None:
                    table[str(row[key]).lower()] = None if row.get(value) is None else str(row[value])
        ident = (entity_set, key, value)
        self._tables[ident] = table
        self._loaded_at[ident] = self._clock()
        self.loads += 1
        log.info("loaded %d %s for lookups", len(table), entity_set)

    def resolve(self, entity_set: str, key: str, value: str, ref: str | None) -> str | None:
        if ref is None:
            return None
        ident = (entity_set, key, value)
        ref = ref.lower()
        table = self._tables.get(ident)
        if table is not None and ref in table:
            return table[ref]
        if table is None or self._clock() - self._loaded_at[ident] >= self.min_reload:
            self._load(entity_set, key, value)
            table = self._tables[ident]
            if ref in table:
                return table[ref]
        log.warning("%s %s not found in %s; %s left empty", key, ref, entity_set, value)
        return None
