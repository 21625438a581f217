"""Declarations of the FinOps targets a sink writes: entity set, key, references, delete behaviour. The flow a
write belongs to (for its dead letters) comes from the flow declaration (``p2c.flows``).

A target topic carries writes ``{op UPSERT|DELETE, record, origin{system, entity, id, version, ts_ms}}``.
The sink upserts ``record`` by its key; the version it applied per key is kept on p2c's side
(``connectors.core.versions``), never in a field of the ERP: a standard environment needs no customisation.

Finding the row: ``locate`` reads the rows the ERP has for a batch's keys (one chunked ``$filter``). For most
targets p2c's key is the entity's key. A contact person is keyed in FinOps by a party number FinOps assigns,
so p2c finds it by what it knows (``ContactPersonTarget``): the CRM contact number, kept in the real field
``ContactPersonId``, in the record's company; it creates one with POST and lets FinOps number it.

References: a record that names a row another sink writes concurrently (a contact person's customer) or that
must exist in the ERP (a quotation line's released product) declares it as a ``Reference``; the sink holds
such a record back while the row is missing, for a bounded time, then dead-letters it with the reason.

Deletes: FinOps rarely allows deleting a customer with history (transactions, quotations), so a DELETE of a
customer blocks it instead: PATCH ``OnHoldStatus = 'All'`` (``delete_patch``). A target whose rows may be
deleted outright (contact persons) sets ``delete_patch=None``.

Cleared fields: a None is left out of a body, so that the fields p2c does not own keep their values (the
envelope fills every schema field). A write names the fields its source emptied (``cleared``); ``clear``
gives those FinOps's empty value for their type, as the real metadata types them: a string (nullable in the
metadata, but X++ stores no null string) becomes "", an Edm.Decimal or Edm.Int32 (NOT NULL) becomes 0. Other
types are not cleared (the streams name no value-mapped field, so no enum; dates are not mapped this way).

A parent/child target (quotation header + lines, one change set per quotation) subclasses Target
(``connectors.finops.quotations``); the sink's dedupe, version guard, holds and batching stay as they are.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Any
from urllib.parse import quote

from p2c import flows, topics
from p2c.connectors.core.batch import Operation
from p2c.connectors.core.convert import record_schema
from p2c.connectors.core.http import ODataClient
from p2c.connectors.core.pagination import NextLinkPaginator
from p2c.connectors.core.writes import EnumLiteral, Key, normalize, odata_literal, or_filters

__all__ = [
    "CONTACT_PERSONS",
    "CUSTOMERS",
    "ContactPersonTarget",
    "Reference",
    "Row",
    "Target",
    "key_filter",
    "key_path",
    "odata_literal",
]

COMPANY = "dataAreaId"
#: a row of the target as the ERP returned it (its key fields, at least)
Row = dict[str, Any]


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
    if isinstance(value, date):  # FinOps has no Edm.Date: a date-only field is a DateTimeOffset at midnight UTC
        return f"{value.isoformat()}T00:00:00Z"
    return value


_EMPTY = {"string": "", "int": 0, "long": 0, "double": 0.0, "float": 0.0}


@cache
def empty_values(topic: str, part: str | None = None) -> dict[str, Any]:
    """Field -> the value that clears it in FinOps, for the fields of ``topic``'s record (or of its ``part``,
    a record or an array of records inside it: a quotation's ``header``, ``lines``) that can be cleared."""
    out: dict[str, Any] = {}
    schema = record_schema(topic, "record")
    if part is not None:
        (inner,) = [f["type"] for f in schema["fields"] if f["name"] == part]
        schema = inner.get("items", inner) if isinstance(inner, dict) else inner
    for f in schema["fields"]:
        branches = [t for t in (f["type"] if isinstance(f["type"], list) else [f["type"]]) if t != "null"]
        if len(branches) != 1:
            continue
        t = branches[0]
        if isinstance(t, dict):
            t = "decimal" if t.get("logicalType") == "decimal" else None
        if t == "decimal":
            out[f["name"]] = 0
        elif t in _EMPTY:
            out[f["name"]] = _EMPTY[str(t)]
    return out


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
    references: tuple[Reference, ...] = ()

    def prepare(self, record: dict[str, Any], company: str) -> dict[str, Any]:
        """The record with the default company filled in."""
        if COMPANY in self.key_fields and not record.get(COMPANY):
            record = {**record, COMPANY: company}
        return record

    def clear(self, record: dict[str, Any], cleared: tuple[str, ...]) -> dict[str, Any]:
        """``record`` with each cleared field that is None given its empty value (sent, not left out)."""
        empty = empty_values(self.topic) if cleared else {}
        wiped = {f: empty[f] for f in cleared if f in empty and record.get(f) is None and f not in self.key_fields}
        return {**record, **wiped} if wiped else record

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

    def body(self, record: dict[str, Any], *, with_keys: bool) -> dict[str, Any]:
        """Fields to send; None values are left out (FinOps fills its empty values itself)."""
        return {k: to_json(v) for k, v in record.items() if v is not None and (with_keys or k not in self.key_fields)}

    @property
    def located_fields(self) -> tuple[str, ...]:
        """What ``locate`` reads of a row: enough to address it."""
        return self.key_fields

    def locate(self, client: ODataClient, keys: list[Key]) -> dict[Key, Row]:
        """Normalized key -> the row the ERP has for it (``located_fields``); absent keys are new."""
        found: dict[Key, Row] = {}
        paginator = NextLinkPaginator(client)
        for flt in or_filters([self.key_filter(k) for k in keys]):
            params = {"cross-company": "true", "$filter": flt, "$select": ",".join(self.located_fields)}
            for page in paginator.pages(self.entity_set, params=params):
                for row in page.rows:
                    found[normalize(self.row_key(row))] = row
        return found

    def read_children(self, client: ODataClient, keys: list[Key]) -> dict[Key, list[Key]]:
        """Child rows the target has for ``keys`` (normalized), for targets with children."""
        return {}

    def lost(self, client: ODataClient, writes: list[Any], rows: dict[Key, Row]) -> list[Any]:
        """Of upserts at the version already applied (a replay), those the ERP no longer has (``rows``: what
        ``locate`` found): removed behind p2c's back, so the sink writes them again."""
        return [w for w in writes if normalize(w.key) not in rows]

    def operations(
        self,
        record: dict[str, Any],
        key: Key,
        *,
        delete: bool,
        row: Row | None,
        children: list[Key] | None = None,
    ) -> list[Operation]:
        """The operations of one change set for this write (``row``: the ERP's, None when absent); [] for none."""
        if delete:
            if row is None:
                return []  # never reached the target: nothing to block or delete
            if self.delete_patch is None:
                return [Operation("DELETE", self.key_path(key))]
            return [Operation("PATCH", self.key_path(key), dict(self.delete_patch))]
        if row is not None:
            return [Operation("PATCH", self.key_path(key), self.body(record, with_keys=False))]
        return [Operation("POST", self.entity_set, self.body(record, with_keys=True))]


CONTACT_TYPE_ENUM = "Microsoft.Dynamics.DataEntities.SmmContactPersonCdsAssociatedContactType"


@dataclass(frozen=True)
class ContactPersonTarget(Target):
    """``CDSContactPersonsV2``: p2c's key is (dataAreaId, ContactPersonId), FinOps's the party number and the
    associated contact. A contact that moves to another customer is deleted there and created anew."""

    entity_key: tuple[str, ...] = (
        COMPANY,
        "ContactPersonPartyNumber",
        "AssociatedContactType",
        "AssociatedContactNumber",
    )

    @property
    def located_fields(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*self.entity_key, *self.key_fields)))

    def entity_path(self, row: Row) -> str:
        values = [
            EnumLiteral(CONTACT_TYPE_ENUM, str(row[f])) if f == "AssociatedContactType" else row[f]
            for f in self.entity_key
        ]
        return key_path(self.entity_set, self.entity_key, tuple(values))

    def operations(
        self,
        record: dict[str, Any],
        key: Key,
        *,
        delete: bool,
        row: Row | None,
        children: list[Key] | None = None,
    ) -> list[Operation]:
        if row is None:
            return [] if delete else [Operation("POST", self.entity_set, self.body(record, with_keys=True))]
        if delete:
            return [Operation("DELETE", self.entity_path(row))]
        same = all(
            str(row.get(f) or "").lower() == str(record.get(f) or "").lower()
            for f in ("AssociatedContactType", "AssociatedContactNumber")
        )
        if not same:  # the associated customer is part of FinOps's key: delete there, create here
            post = Operation("POST", self.entity_set, self.body(record, with_keys=True))
            return [Operation("DELETE", self.entity_path(row)), post]
        body = {k: v for k, v in self.body(record, with_keys=False).items() if k not in self.entity_key}
        return [Operation("PATCH", self.entity_path(row), body)]


CUSTOMERS = Target(
    "customers",
    topics.ERP_CUSTOMERS.name,
    "CustomersV3",
    ("dataAreaId", "CustomerAccount"),
    delete_patch={"OnHoldStatus": "All"},
)
CONTACT_PERSONS = ContactPersonTarget(
    "contactpersons",
    topics.ERP_CONTACTPERSONS.name,
    "CDSContactPersonsV2",
    ("dataAreaId", "ContactPersonId"),
    references=(Reference("AssociatedContactNumber", *CUSTOMER_REF),),
)
