"""Declarations of the Dataverse (CRM) targets a sink writes, like the FinOps ones (``connectors.finops.targets``):
entity set, alternate key, the row id, what a delete does. The flow a write belongs to
(for its dead letters) comes from the flow declaration (``p2c.flows``).

A target topic carries writes ``{op UPSERT|DELETE, record, origin{system, entity, id, version, ts_ms}}``. The
sink upserts ``record`` by its alternate key (``PATCH <set>(<key>='<value>')``) and records ``origin.version``
on p2c's side (``connectors.core.versions``), so an older version never overwrites a newer one and the tenant
needs no column of p2c's. Dataverse keeps rows other records use (a product on a quote), so a DELETE deactivates the row
(``delete_patch``) and a later upsert of it activates it again (``restore_patch``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from p2c import flows, topics
from p2c.connectors.core.writes import odata_literal, targets_named

__all__ = ["PRODUCTS", "TARGETS", "CrmTarget", "targets_for"]

RETIRED = {"statecode": 1, "statuscode": 2}
ACTIVE = {"statecode": 0, "statuscode": 1}


@dataclass(frozen=True)
class CrmTarget:
    name: str
    topic: str
    entity_set: str
    #: the alternate key column the sink upserts by (its values are the target topic's keys)
    key: str
    #: the table's primary id column
    id_field: str
    #: record fields written as they are (a target's sink binds or uses the others)
    plain: tuple[str, ...] = ()
    #: fields every upsert sets
    constants: dict[str, Any] = field(default_factory=dict)
    #: a DELETE becomes this PATCH (the row is deactivated, not deleted)
    delete_patch: dict[str, Any] = field(default_factory=lambda: dict(RETIRED))
    #: an upsert of a deactivated row adds this
    restore_patch: dict[str, Any] = field(default_factory=lambda: dict(ACTIVE))

    def key_path(self, value: str) -> str:
        """``products(productnumber='P-1')``: the row by its alternate key."""
        return f"{self.entity_set}({self.key}={quote(odata_literal(value), safe=chr(39))})"

    def flow_for(self, origin_entity: str | None) -> str:
        """The flow a write belongs to (its dead letters and counters): ``p2c.flows`` decides."""
        return flows.flow_of(self.topic, origin_entity)


PRODUCTS = CrmTarget(
    "products",
    topics.CRM_PRODUCTS_TARGET.name,
    "products",
    key="productnumber",
    id_field="productid",
    plain=("name", "description", "price", "currentcost", "producttypecode", "quantitydecimal"),
    constants={"msdynce_ismaintainedexternally": True},
)

#: every CRM target a sink can write, by name (``p2c sink run crm --targets ...``)
TARGETS: dict[str, CrmTarget] = {t.name: t for t in (PRODUCTS,)}


def targets_for(names: list[str]) -> list[CrmTarget]:
    """The targets of these names; none named: every target the flows write into the CRM (``p2c.flows``)."""
    return targets_named(TARGETS, names, "crm")
