"""The target tables a flow's writes land in, and reading them for a reconcile.

A write on a target topic becomes rows of one or two tables, as its sink writes them (the sinks' own target
declarations say which): a customer one row of ``CustomersV3``, a contact person one of ``CDSContactPersonsV2``
(found by p2c's key, ``ContactPersonId``), a quotation one header of ``CDSSalesQuotationHeaders`` and a row of
``CDSSalesQuotationLines`` per line, a product one row of the CRM's ``products``.

The ERP's tables are read with ``cross-company=true`` in the flows' legal entity, the fields the templates
write (and those a delete sets) selected, paged by the service. The CRM's products are the rows of its
products stream (the CRM source's read: currency and unit by name), which the quotes' join reads anyway.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from p2c.connectors.core.http import ODataClient
from p2c.connectors.core.pagination import NextLinkPaginator
from p2c.connectors.dataverse.targets import TARGETS as CRM_TARGETS
from p2c.connectors.finops.catalog import TARGETS as ERP_TARGETS
from p2c.connectors.finops.quotations import LINE_KEY, QuotationTarget
from p2c.connectors.finops.targets import COMPANY, odata_literal
from p2c.control.reconcile.compare import join_key
from p2c.streams.template import Template

Row = dict[str, Any]


@dataclass(frozen=True)
class Table:
    """One target table a flow writes: its key, what a flow's rows carry, what a delete leaves."""

    system: str
    entity_set: str
    key_fields: tuple[str, ...]
    #: the fields a delete sets (the row stays, on hold or retired); empty: a delete removes the row
    delete_state: dict[str, Any] = field(default_factory=dict)
    #: rows of this table are children of a row of another (quotation lines): the parent's key fields
    parent_fields: tuple[str, ...] = ()

    def key(self, row: Row) -> str:
        """The row's key as the spill keeps it: case-insensitive, like the services compare keys."""
        return join_key(row.get(f) for f in self.key_fields).lower()

    def label(self, row: Row) -> str:
        """The row's key as a person reads it (its case kept)."""
        return join_key(row.get(f) for f in self.key_fields)

    def parent(self, row: Row) -> str | None:
        return join_key(row.get(f) for f in self.parent_fields).lower() if self.parent_fields else None


def tables_of(topic: str) -> list[Table]:
    """The tables a write on ``topic`` lands in (a quotation: header, then lines)."""
    for erp in ERP_TARGETS.values():
        if erp.topic == topic:
            delete = dict(erp.delete_patch or {})
            header = Table("erp", erp.entity_set, erp.key_fields, delete)
            if isinstance(erp, QuotationTarget):
                return [header, Table("erp", erp.lines_entity_set, LINE_KEY, {}, erp.key_fields)]
            return [header]
    for crm in CRM_TARGETS.values():
        if crm.topic == topic:
            retired = {"statecode": crm.delete_patch["statecode"]}  # what the CRM's products stream reads
            return [Table("crm", crm.entity_set, (crm.key,), retired)]
    raise KeyError(f"no sink declares a target for {topic!r}")


def rows_of(topic: str, record: Row, company: str) -> Iterator[tuple[Table, Row]]:
    """The rows a write's ``record`` becomes, company filled in as its sink fills it."""
    tables = tables_of(topic)
    erp = next((t for t in ERP_TARGETS.values() if t.topic == topic), None)
    record = erp.prepare(record, company) if erp is not None else record
    if len(tables) == 1:
        yield tables[0], record
        return
    yield tables[0], dict(record.get("header") or {})
    for line in record.get("lines") or []:
        yield tables[1], dict(line)


def template_for(table: Table, templates: list[Template]) -> Template | None:
    """The template that fills ``table``'s rows (by its key): None when the flow writes no such rows."""
    return next((t for t in templates if tuple(t.key) == table.key_fields), None)


def constants(template: Template) -> dict[str, Any]:
    """What every row a template writes carries (``const`` fields): how a flow's rows are told from others."""
    return {spec.target: spec.const for spec in template.fields if spec.const is not None}


def read_erp(client: ODataClient, table: Table, fields: list[str], company: str, page_size: int) -> Iterator[Row]:
    """Every row of an ERP table in ``company``, with ``fields``, a page at a time."""
    select = list(dict.fromkeys([*table.key_fields, *table.parent_fields, *fields, *table.delete_state]))
    params = {
        "cross-company": "true",
        "$filter": f"{COMPANY} eq {odata_literal(company)}",
        "$select": ",".join(select),
    }
    paginator = NextLinkPaginator(client, {"Prefer": f"odata.maxpagesize={page_size}"})
    for page in paginator.pages(table.entity_set, params=params):
        for row in page.rows:
            yield {k: v for k, v in row.items() if not k.startswith("@")}
