"""Declarations of the Dataverse change streams: what to read, how to key it, what to resolve.

A stream is data, not code (meltano-style): the entity set, its key, the topic, the lookups the source
resolves from reference data or from OData annotations. ``$select`` is derived from the topic's Avro row
schema, minus the resolved fields, plus what the source itself needs (who modified the row, when created).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from p2c import flows, topics
from p2c.connectors.core.convert import RowConverter, record_schema

# The source's own needs, not part of any schema: echo suppression and create-vs-update.
EXTRA_SELECT = ("_modifiedby_value", "createdon")
ANNOTATION = "@Microsoft.Dynamics.CRM.lookuplogicalname"


@dataclass(frozen=True)
class ReferenceLookup:
    """``field`` = ``value`` of the ``entity_set`` row whose ``key`` is the row's ``lookup`` (a GUID)."""

    field: str
    lookup: str
    entity_set: str
    key: str
    value: str


@dataclass(frozen=True)
class AnnotationLookup:
    """``field`` = the logical name of the table a polymorphic ``lookup`` points to (account/contact)."""

    field: str
    lookup: str


@dataclass(frozen=True)
class Stream:
    entity_set: str
    key: str
    topic: str
    #: the event key: the row key unless given (quote lines are keyed by their quote)
    event_key: str | None = None
    references: tuple[ReferenceLookup, ...] = ()
    annotations: tuple[AnnotationLookup, ...] = ()
    #: skip rows last modified by the integration's own user (echo suppression) for CRM -> ERP entities
    ignore_own_changes: bool = True
    extra_select: tuple[str, ...] = field(default=EXTRA_SELECT)

    @property
    def flow(self) -> str:
        """The flow its change topic feeds (``p2c.flows``): its dead letters and counters go there."""
        return flows.flow_of_source(self.topic)

    @cached_property
    def schema(self) -> dict[str, Any]:
        return record_schema(self.topic, "after")

    @cached_property
    def converter(self) -> RowConverter:
        return RowConverter.for_record(self.schema)

    @property
    def resolved_fields(self) -> set[str]:
        return {r.field for r in self.references} | {a.field for a in self.annotations}

    @property
    def select(self) -> list[str]:
        fields = [f for f in self.converter.field_names if f not in self.resolved_fields]
        return fields + [f for f in self.extra_select if f not in fields]

    @property
    def keyed_by_parent(self) -> bool:
        return self.event_key is not None and self.event_key != self.key


CURRENCY = ReferenceLookup(
    "transactioncurrencyid_isocurrencycode",
    "_transactioncurrencyid_value",
    "transactioncurrencies",
    "transactioncurrencyid",
    "isocurrencycode",
)

STREAMS: dict[str, Stream] = {
    s.entity_set: s
    for s in (
        Stream("accounts", "accountid", topics.CRM_ACCOUNTS.name, references=(CURRENCY,)),
        Stream(
            "contacts",
            "contactid",
            topics.CRM_CONTACTS.name,
            references=(CURRENCY,),
            annotations=(AnnotationLookup("parentcustomerid_type", "_parentcustomerid_value"),),
        ),
        Stream(
            "quotes",
            "quoteid",
            topics.CRM_QUOTES.name,
            references=(CURRENCY,),
            annotations=(AnnotationLookup("customerid_type", "_customerid_value"),),
        ),
        Stream(
            "quotedetails",
            "quotedetailid",
            topics.CRM_QUOTEDETAILS.name,
            event_key="_quoteid_value",
            references=(ReferenceLookup("uomid_name", "_uomid_value", "uoms", "uomid", "name"),),
        ),
        # Products flow ERP -> CRM: the sink writes them as the integration user, and the quote flow needs
        # exactly those rows, so the source keeps its own changes here.
        Stream(
            "products",
            "productid",
            topics.CRM_PRODUCTS.name,
            ignore_own_changes=False,
            references=(CURRENCY, ReferenceLookup("defaultuomid_name", "_defaultuomid_value", "uoms", "uomid", "name")),
        ),
    )
}


def streams_for(names: list[str]) -> list[Stream]:
    """The streams of these entity sets; none named: every stream whose change topic a flow reads."""
    if not names:
        return [s for s in STREAMS.values() if s.topic in {t.name for t in flows.SOURCE_TOPICS}]
    unknown = [n for n in names if n not in STREAMS]
    if unknown:
        raise KeyError(f"unknown entity sets {unknown}; known: {', '.join(STREAMS)}")
    return [STREAMS[n] for n in names]
