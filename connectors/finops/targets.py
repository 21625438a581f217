"""Declarations of the FinOps targets a sink writes: entity set, key, delete behaviour, dead-letter flow.

A target topic carries writes ``{op UPSERT|DELETE, record, origin{system, entity, id, version, ts_ms}}``.
The sink upserts ``record`` by its key and stores ``origin.version`` in the extension field
``P2CSourceVersion``, so an older version never overwrites a newer one.

Deletes: FinOps rarely allows deleting a customer with history (transactions, quotations), so a DELETE of a
customer blocks it instead: PATCH ``OnHoldStatus = 'All'`` (``delete_patch``). A target whose rows may be
deleted outright sets ``delete_patch=None``.

Adding a target is a declaration: ``CDSContactsV2`` is one line below. A parent/child target (quotation
header + lines, one change set per quotation, lines removed in the CRM deleted in the same change set)
subclasses Target and overrides ``operations`` to emit the header and line operations of one change set;
the sink's dedupe, version guard, batching and dead-lettering stay as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from connectors.core.batch import Operation
from p2c import topics

VERSION_FIELD = "P2CSourceVersion"

Key = tuple[str, ...]


def odata_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def normalize(key: Key) -> Key:
    """FinOps compares keys case-insensitively."""
    return tuple(k.lower() for k in key)


@dataclass(frozen=True)
class Target:
    name: str
    topic: str
    entity_set: str
    key_fields: tuple[str, ...]
    #: where rejected records go, by origin entity; ``default_flow`` when the origin is unknown
    flows_by_origin: dict[str, str] = field(default_factory=dict)
    default_flow: str = "accounts"
    #: a DELETE becomes this PATCH; None: a real DELETE
    delete_patch: dict[str, Any] | None = None
    version_field: str = VERSION_FIELD

    def key_of(self, record: dict[str, Any]) -> Key:
        return tuple(str(record.get(f) or "") for f in self.key_fields)

    def key_path(self, key: Key) -> str:
        inner = ",".join(
            f"{f}={quote(odata_literal(v), safe=chr(39))}" for f, v in zip(self.key_fields, key, strict=True)
        )
        return f"{self.entity_set}({inner})"

    def key_filter(self, key: Key) -> str:
        return " and ".join(f"{f} eq {odata_literal(v)}" for f, v in zip(self.key_fields, key, strict=True))

    def flow_for(self, origin_entity: str | None) -> str:
        return self.flows_by_origin.get(origin_entity or "", self.default_flow)

    def body(self, record: dict[str, Any], version: int, *, with_keys: bool) -> dict[str, Any]:
        """Fields to send; None values are left out (FinOps string fields are not nullable)."""
        body = {k: _json(v) for k, v in record.items() if v is not None and (with_keys or k not in self.key_fields)}
        body[self.version_field] = version
        return body

    def operations(
        self,
        record: dict[str, Any],
        key: Key,
        version: int,
        *,
        delete: bool,
        exists: bool,
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


def _json(value: Any) -> Any:
    from datetime import date, datetime
    from decimal import Decimal

    if isinstance(value, Decimal):
        return float(value)  # Edm.Decimal as a JSON number
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return value


CUSTOMERS = Target(
    "customers",
    topics.ERP_CUSTOMERS.name,
    "CustomersV3",
    ("dataAreaId", "CustomerAccount"),
    flows_by_origin={"accounts": "accounts", "contacts": "contacts"},
    default_flow="accounts",
    delete_patch={"OnHoldStatus": "All"},
)
CONTACT_PERSONS = Target(
    "contactpersons",
    topics.ERP_CONTACTPERSONS.name,
    "CDSContactsV2",
    ("dataAreaId", "ContactPersonId"),
    default_flow="contacts",
)

TARGETS: dict[str, Target] = {t.name: t for t in (CUSTOMERS, CONTACT_PERSONS)}


def targets_for(names: list[str]) -> list[Target]:
    unknown = [n for n in names if n not in TARGETS]
    if unknown:
        raise KeyError(f"unknown ERP flows {unknown}; known: {', '.join(TARGETS)}")
    return [TARGETS[n] for n in names]
