"""The Dataverse (CRM) products sink: products upserted by alternate key, each with its price-list item, one
change set per product.

Per batch:

    dedupe            keep the newest write per productnumber (origin.version, then offset)
    versions          a write not newer than the version applied for its productnumber is skipped (the
                      applied versions live on p2c's side: ``connectors.core.versions``), unless it is at
                      that version and Sales no longer has the product (deleted by hand: a replay restores it)
    read products     GET products?$filter=productnumber eq 'a' or ...&$select=productid,productnumber,
                      statecode (chunked)
    read items        GET productpricelevels?$filter=_productid_value eq <id> or ... for the existing products
    bind              currency (ISO code), unit and unit group (by name), price list (named, else the first in
                      the product's currency): a missing one is a RecordError for that product alone
    $batch            per product one change set:
                        PATCH products(productnumber='P-1')          upsert, msdynce_ismaintainedexternally=true
                        PATCH products(productnumber='P-1')          a new product: its price list, by an update
                                                                     (pricelevelid is not valid for create)
                        PATCH productpricelevels(<id>)               upsert: the existing item on that price
                                                                     list, else a new one with a stable id
                        POST  products(...)/Microsoft.Dynamics.CRM.PublishProductHierarchy
                                                                     a new (Draft) product is published: only an
                                                                     active product can go on a quote
                      a DELETE retires the product (statecode 1): Dataverse keeps products used on quotes

The products target's declaration (entity set, alternate key, what a delete does) is data in
:mod:`connectors.dataverse.targets`; what is code here is the products' own part: the bindings and the
price-list item. Sales needs no column of p2c's: the version applied per product is kept beside the sink.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence
from typing import Any

from p2c.connectors.base.sink import NOT_NEWER, SUPERSEDED, Sink, SinkRecord, WriteResult
from p2c.connectors.core.batch import BatchWriter, ChangeSet, Operation
from p2c.connectors.core.http import ODataClient
from p2c.connectors.core.pace import Pace
from p2c.connectors.core.pagination import NextLinkPaginator
from p2c.connectors.core.versions import VersionStore
from p2c.connectors.core.writes import (
    Write,
    cleared,
    dedupe,
    envelope,
    normalize,
    odata_literal,
    or_filters,
    origin_entity,
)
from p2c.connectors.dataverse.pricing import (
    CURRENCIES,
    CURRENCY_FIELD,
    PRICE_LIST_FIELD,
    UNIT_FIELD,
    UNIT_GROUP_FIELD,
    UNIT_GROUPS,
    UNITS,
    Bindings,
)
from p2c.connectors.dataverse.targets import PRODUCTS, CrmTarget
from p2c.connectors.finops.targets import to_json
from p2c.errors import ConfigurationError, RecordError, RetriableError

log = logging.getLogger("p2c.connectors.dataverse.sink")

ITEM_NAMESPACE = uuid.UUID("8f0c7d5e-2b7a-4f7e-9a57-7b3f3c2d9e11")
PUBLISH = "Microsoft.Dynamics.CRM.PublishProductHierarchy"


class Current:
    """What the CRM has for a row: id, state, price-list items by price list id."""

    def __init__(self, target: CrmTarget, row: dict[str, Any]) -> None:
        self.id = str(row[target.id_field])
        self.retired = row.get("statecode") == target.delete_patch.get("statecode")
        self.draft = row.get("statecode") in (2, 3)  # Draft, Under Revision: not usable on a quote yet
        self.items: dict[str, str] = {}


class ProductSink(Sink):
    def __init__(
        self,
        client: ODataClient,
        versions: VersionStore,
        *,
        target: CrmTarget = PRODUCTS,
        bindings: Bindings | None = None,
        default_unit_group: str = "Default Unit",
        max_operations: int = 1000,
        pace: Pace | None = None,
    ) -> None:
        self.client = client
        self.versions = versions
        self.target = target
        self.name = f"crm.{target.name}"
        self.bindings = bindings or Bindings(client)
        self.default_unit_group = default_unit_group
        self.batch = BatchWriter(client, max_operations, pace=pace)

    def topics(self) -> list[str]:
        return [self.target.topic]

    def flow_of(self, record: SinkRecord) -> str:
        return self.target.flow_for(origin_entity(record))

    def close(self) -> None:
        self.client.close()
        self.versions.close()

    # ---- reading the CRM ---------------------------------------------------------------------------

    def current(self, numbers: Sequence[str]) -> dict[str, Current]:
        """Lower-cased key (productnumber) -> what the CRM has."""
        t = self.target
        found: dict[str, Current] = {}
        paginator = NextLinkPaginator(self.client, {"Prefer": "odata.maxpagesize=5000"})
        select = f"{t.id_field},{t.key},statecode"
        for flt in or_filters([f"{t.key} eq {odata_literal(n)}" for n in numbers]):
            for page in paginator.pages(t.entity_set, params={"$filter": flt, "$select": select}):
                for row in page.rows:
                    found[str(row[t.key]).lower()] = Current(t, row)
        by_id = {c.id.lower(): c for c in found.values()}
        select = "productpricelevelid,_productid_value,_pricelevelid_value"
        for flt in or_filters([f"_productid_value eq {i}" for i in by_id]):
            for page in paginator.pages("productpricelevels", params={"$filter": flt, "$select": select}):
                for row in page.rows:
                    product = by_id.get(str(row["_productid_value"]).lower())
                    if product is not None and row.get("_pricelevelid_value"):
                        product.items[str(row["_pricelevelid_value"]).lower()] = str(row["productpricelevelid"])
        return found

    # ---- planning ------------------------------------------------------------------------------------

    def operations(self, w: Write, current: Current | None) -> list[Operation]:
        t = self.target
        number = w.key[0]
        if w.delete:
            if current is None or current.retired:
                return []
            return [Operation("PATCH", t.key_path(number), dict(t.delete_patch))]
        rec = w.fields
        currency = rec.get(CURRENCY_FIELD)
        if not currency:
            raise RecordError(f"product {number} has no currency", record_key=w.record.key, field=CURRENCY_FIELD)
        currency_id = self.bindings.id_of(CURRENCIES, currency, CURRENCY_FIELD, number)
        unit = rec.get(UNIT_FIELD)
        if not unit:
            raise RecordError(f"product {number} has no default unit", record_key=w.record.key, field=UNIT_FIELD)
        unit_id = self.bindings.id_of(UNITS, unit, UNIT_FIELD, number)
        group_id = self.bindings.id_of(
            UNIT_GROUPS, rec.get(UNIT_GROUP_FIELD) or self.default_unit_group, UNIT_GROUP_FIELD, number
        )
        price_list = self.bindings.price_list(rec.get(PRICE_LIST_FIELD), currency, currency_id, number)
        product: dict[str, Any] = {k: to_json(rec[k]) for k in t.plain if rec.get(k) is not None}
        product |= {k: None for k in w.cleared if k in t.plain and rec.get(k) is None}  # Dataverse clears a null
        product |= {
            **t.constants,
            "transactioncurrencyid@odata.bind": f"/transactioncurrencies({currency_id})",
            "defaultuomscheduleid@odata.bind": f"/uomschedules({group_id})",
            "defaultuomid@odata.bind": f"/uoms({unit_id})",
        }
        price_list_bind = {"pricelevelid@odata.bind": f"/pricelevels({price_list.id})"}
        if current is not None and current.retired:
            product |= t.restore_patch
        item_id = (current.items.get(price_list.id.lower()) if current else None) or str(
            uuid.uuid5(ITEM_NAMESPACE, f"{number.lower()}|{price_list.id.lower()}")
        )
        item = {
            "amount": to_json(rec.get("price")) or 0,
            "pricingmethodcode": 1,  # currency amount
            "quantitysellingcode": 1,  # no control
            "productid@odata.bind": f"/{t.key_path(number)}",
            "pricelevelid@odata.bind": f"/pricelevels({price_list.id})",
            "uomid@odata.bind": f"/uoms({unit_id})",
        }
        if current is None:  # pricelevelid is not valid for create: set after the create, by an update
            ops = [
                Operation("PATCH", t.key_path(number), product),
                Operation("PATCH", t.key_path(number), price_list_bind),
            ]
        else:
            ops = [Operation("PATCH", t.key_path(number), product | price_list_bind)]
        ops.append(Operation("PATCH", f"productpricelevels({item_id})", item))
        if current is None or current.draft:  # a new product is in Draft until published
            ops.append(Operation("POST", f"{t.key_path(number)}/{PUBLISH}", {}))
        return ops

    # ---- writing -------------------------------------------------------------------------------------

    def write(self, batch: Sequence[SinkRecord]) -> WriteResult:
        started = time.monotonic()
        result = WriteResult()
        writes: list[Write] = []
        for record in batch:
            try:
                fields, version, delete = envelope(record, self.target.entity_set)
                number = str(fields.get(self.target.key) or "")
                if not number:
                    raise RecordError(f"{self.target.key} is empty", record_key=record.key, field=self.target.key)
                writes.append(Write(record, (number,), fields, delete, version, cleared(record)))
            except RecordError as exc:
                result.rejected.append((record, exc))
        writes, superseded = dedupe(writes)
        result.skip((w.record for w in superseded), SUPERSEDED)
        applied = self.versions.get(normalize(w.key) for w in writes)
        stale = [w for w in writes if applied.get(normalize(w.key), -1) >= w.version]
        again = [w for w in stale if applied.get(normalize(w.key)) == w.version and not w.delete]
        if again:  # a replay: what Sales no longer has (deleted by hand) is written again
            present = self.current([w.key[0] for w in again])
            stale = [w for w in stale if w not in again or w.key[0].lower() in present]
        result.skip((w.record for w in stale), NOT_NEWER)
        writes = [w for w in writes if w not in stale]
        current = self.current([w.key[0] for w in writes]) if writes else {}
        changesets: list[ChangeSet] = []
        done: list[Write] = []
        for w in writes:
            try:
                ops = self.operations(w, current.get(w.key[0].lower()))
            except RecordError as exc:
                result.rejected.append((w.record, exc))
                continue
            if ops:
                changesets.append(ChangeSet(w.key[0], ops, tag=w))
            else:  # nothing to do (a delete of a product Sales has not, or has retired): applied all the same
                result.skip([w.record], "nothing to do in the CRM (a delete of a product it has not or has retired)")
                done.append(w)
        failure: Exception | None = None
        for outcome in self.batch.send(changesets) if changesets else []:
            w = outcome.changeset.tag
            err = outcome.error
            if err is None:
                result.written.append(w.record)
                done.append(w)
            elif isinstance(err, RecordError):
                result.rejected.append((w.record, err))
            elif failure is None:
                failure = (
                    err
                    if isinstance(err, ConfigurationError)
                    else RetriableError(f"products {outcome.changeset.key}: {err}", getattr(err, "retry_after", None))
                )
        # What Sales acknowledged is applied, even when the batch as a whole must be tried again.
        self.versions.put({normalize(w.key): w.version for w in done})
        if failure is not None:
            raise failure
        log.info(
            "wrote %d products to the CRM in %d ms (%d skipped, %d rejected)",
            len(result.written),
            (time.monotonic() - started) * 1000,
            len(result.skipped),
            len(result.rejected),
        )
        return result
