"""Declarations of the FinOps targets a sink writes: entity set, key, references, delete behaviour. The flow a
write belongs to (for its dead letters) comes from the flow declaration (``p2c.flows``).

A target topic carries writes ``{op UPSERT|DELETE, record, origin{system, entity, id, version, ts_ms}}``.
The sink upserts ``record`` by its key and stores ``origin.version`` in the extension field
``P2CSourceVersion``, so an older version never overwrites a newer one.

References: a record that names a row another sink writes concurrently (a contact person's customer) or that
must exist in the ERP (a quotation line's released product) declares it as a ``Reference``; the sink holds
such a record back while the row is missing, for a bounded time, then dead-letters it with the reason.

Deletes: FinOps rarely allows deleting a customer with history (transactions, quotations), so a DELETE of a
customer blocks it instead: PATCH ``OnHoldStatus = 'All'`` (``delete_patch``). A target whose rows may be
deleted outright (contact persons) sets ``delete_patch=None``.

A parent/child target (quotation header + lines, one change set per quotation) subclasses Target
(``connectors.finops.quotations``); the sink's dedupe, version guard, holds and batching stay as they are.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from p2c import flows, topics
from p2c.connectors.core.batch import Operation
from p2c.connectors.core.http import ODataClient
from p2c.connectors.core.writes import Key, odata_literal

__all__ = ["CONTACT_PERSONS", "CUSTOMERS", "Reference", "Target", "key_filter", "key_path", "odata_literal"]

VERSION_FIELD = "P2CSourceVersion"
COMPANY = "dataAreaId"


def key_path(entity_set: str, names: tuple[str, ...], values: tuple[Any, ...]) -> str:
    inner = ",".join(f"{f}={quote(odata_literal(v), safe=chr(39))}" for f, v in zip(names, values, strict=True))
    return f"{entity_set}({inner})"


def key_filter(names: tuple[str, ...], values: tuple[Any, ...]) -> str:
    return " and ".join(f"{f} eq {odata_literal(v)}" for f, v in zip(names, values, strict=True))


def to_json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)  # Edm.Decimal as a JSON number
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return value


@dataclass(frozen=True)
class Reference:
    """``field`` of a record names a row of ``entity_set`` (``key_field``, in the record's company)."""

    field: str
    entity_set: str
    key_field: str
    what: str

    def clause(self, company: str, value: str) -> str:
        return key_filter((COMPANY, self.key_field), (company, value))


#: a reference of one record: (reference, company, value)
Ref = tuple[Reference, str, str]

CUSTOMER_REF = ("CustomersV3", "CustomerAccount", "customer")
PRODUCT_REF = ("CDSReleasedDistinctProducts", "ProductNumber", "released product")


@dataclass(frozen=True)
class Target:
    name: str
    topic: str
    entity_set: str
    key_fields: tuple[str, ...]
    #: a DELETE becomes this PATCH; None: a real DELETE
    delete_patch: dict[str, Any] | None = None
    version_field: str = VERSION_FIELD
    references: tuple[Reference, ...] = ()

    def prepare(self, record: dict[str, Any], company: str) -> dict[str, Any]:
        """The record with the default company filled in."""
        if COMPANY in self.key_fields and not record.get(COMPANY):
            record = {**record, COMPANY: company}
        return record

    def row_key(self, row: dict[str, Any]) -> Key:
        """The key of a row of ``entity_set`` as the ERP returns it."""
        return tuple(str(row.get(f) or "") for f in self.key_fields)

    def key_of(self, record: dict[str, Any]) -> Key:
        """The key of a record of the target topic."""
        return self.row_key(record)

    def key_path(self, key: Key) -> str:
        return key_path(self.entity_set, self.key_fields, key)

    def key_filter(self, key: Key) -> str:
        return key_filter(self.key_fields, key)

    def flow_for(self, origin_entity: str | None) -> str:
        """The flow a write belongs to (its dead letters and counters): ``p2c.flows`` decides."""
        return flows.flow_of(self.topic, origin_entity)

    def refs(self, record: dict[str, Any]) -> Iterator[Ref]:
        """The rows ``record`` needs in the ERP before it can be written."""
        for ref in self.references:
            value = record.get(ref.field)
            if value:
                yield ref, str(record.get(COMPANY) or ""), str(value)

    def body(self, record: dict[str, Any], version: int, *, with_keys: bool) -> dict[str, Any]:
        """Fields to send; None values are left out (FinOps string fields are not nullable)."""
        body = {k: to_json(v) for k, v in record.items() if v is not None and (with_keys or k not in self.key_fields)}
        body[self.version_field] = version
        return body

    def read_children(self, client: ODataClient, keys: list[Key]) -> dict[Key, list[Key]]:
        """Child rows the target has for ``keys`` (normalized), for targets with children."""
        return {}

    def operations(
        self,
        record: dict[str, Any],
        key: Key,
        version: int,
        *,
        delete: bool,
        exists: bool,
        children: list[Key] | None = None,
    ) -> list[Operation]:
        """The operations of one change set for this write; [] when there is nothing to do."""
        if delete:
            if not exists:
                return []  # never reached the target: nothing to block or delete
            if self.delete_patch is None:
                return [Operation("DELETE", self.key_path(key))]
            return [Operation("PATCH", self.key_path(key), {**self.delete_patch, self.version_field: version})]
        if exists:
            return [Operation("PATCH", self.key_path(key), self.body(record, version, with_keys=False))]
        return [Operation("POST", self.entity_set, self.body(record, version, with_keys=True))]


CUSTOMERS = Target(
    "customers",
    topics.ERP_CUSTOMERS.name,
    "CustomersV3",
    ("dataAreaId", "CustomerAccount"),
    delete_patch={"OnHoldStatus": "All"},
)
CONTACT_PERSONS = Target(
    "contactpersons",
    topics.ERP_CONTACTPERSONS.name,
    "CDSContactsV2",
    ("dataAreaId", "ContactPersonId"),
    references=(Reference("AssociatedContactNumber", *CUSTOMER_REF),),
)
