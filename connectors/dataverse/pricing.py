"""What a product write binds to in Dataverse: currency, unit, unit group and price list, by name.

Loaded once per entity set and cached; a name that is not found reloads the set, at most once per
``min_reload`` seconds (a price list created after a dead letter is found by ``p2c dlq retry``).
The price list is the one named by ``pricelevelid_name`` (case-insensitive), else the first active price list in
the product's currency, by name: what the P2C products template did. None found is a RecordError naming the field.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from p2c.connectors.core.http import ODataClient
from p2c.connectors.core.pagination import NextLinkPaginator
from p2c.errors import RecordError

log = logging.getLogger("p2c.connectors.dataverse.pricing")

CURRENCY_FIELD = "transactioncurrencyid_isocurrencycode"
UNIT_FIELD = "defaultuomid_name"
UNIT_GROUP_FIELD = "defaultuomscheduleid_name"
PRICE_LIST_FIELD = "pricelevelid_name"


@dataclass(frozen=True)
class PriceList:
    id: str
    name: str
    currency_id: str | None


@dataclass(frozen=True)
class Table:
    entity_set: str
    id_field: str
    name_field: str
    #: lookup column of pricelevels rows (their currency)
    extra: str | None = None


CURRENCIES = Table("transactioncurrencies", "transactioncurrencyid", "isocurrencycode")
UNITS = Table("uoms", "uomid", "name")
UNIT_GROUPS = Table("uomschedules", "uomscheduleid", "name")
PRICE_LISTS = Table("pricelevels", "pricelevelid", "name", "_transactioncurrencyid_value")


class Bindings:
    def __init__(
        self, client: ODataClient, min_reload: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.client = client
        self.min_reload = min_reload
        self._clock = clock
        self._rows: dict[str, list[dict[str, str | None]]] = {}
        self._loaded_at: dict[str, float] = {}
        self.loads = 0

    def _load(self, table: Table) -> list[dict[str, str | None]]:
        select = ",".join(f for f in (table.id_field, table.name_field, table.extra) if f)
        flt = {"$filter": "statecode eq 0"} if table is PRICE_LISTS else {}
        rows: list[dict[str, str | None]] = []
        paginator = NextLinkPaginator(self.client, {"Prefer": "odata.maxpagesize=5000"})
        for page in paginator.pages(table.entity_set, params={"$select": select, **flt}):
            rows += [{k: None if r.get(k) is None else str(r[k]) for k in select.split(",")} for r in page.rows]
        self._rows[table.entity_set] = rows
        self._loaded_at[table.entity_set] = self._clock()
        self.loads += 1
        log.info("loaded %d %s", len(rows), table.entity_set)
        return rows

    def _find(self, table: Table, match: Callable[[dict[str, str | None]], bool]) -> list[dict[str, str | None]]:
        rows = self._rows.get(table.entity_set)
        if rows is None:
            rows = self._load(table)
        found = [r for r in rows if match(r)]
        if not found and self._clock() - self._loaded_at[table.entity_set] >= self.min_reload:
            found = [r for r in self._load(table) if match(r)]
        return found

    def id_of(self, table: Table, name: str, field: str, product: str) -> str:
        found = self._find(table, lambda r: (r[table.name_field] or "").lower() == name.lower())
        if not found:
            what = table.entity_set.rstrip("s")
            raise RecordError(f"no {what} {name!r} in the CRM for product {product}", record_key=product, field=field)
        return str(found[0][table.id_field])

    def price_list(self, name: str | None, currency: str, currency_id: str, product: str) -> PriceList:
        if name:
            rows = self._find(PRICE_LISTS, lambda r: (r["name"] or "").lower() == name.lower())
            if not rows:
                raise RecordError(
                    f"no price list named {name!r} for product {product}", record_key=product, field=PRICE_LIST_FIELD
                )
        else:
            rows = self._find(PRICE_LISTS, lambda r: (r[PRICE_LISTS.extra or ""] or "").lower() == currency_id.lower())
            if not rows:
                raise RecordError(
                    f"no price list in currency {currency} for product {product}",
                    record_key=product,
                    field=CURRENCY_FIELD,
                )
        first = sorted(rows, key=lambda r: ((r["name"] or "").lower(), r["pricelevelid"] or ""))[0]
        return PriceList(str(first["pricelevelid"]), str(first["name"]), first[PRICE_LISTS.extra or ""])
