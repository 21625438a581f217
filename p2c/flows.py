"""The flows, declared once: everything that needs the list of flows derives it from ``FLOWS``.

A flow is data: the change topics it reads, the target topics it writes, the mapping templates
(``streams/templates/<name>.toml``), the code that turns its change events into writes (named, not
imported: this module is the shared kernel and must stay light), and the join dependencies it waits on
(``streams/join/specs.py``, by change topic). From it:

* topics: every source, target and dead-letter topic (``ALL_TOPICS``, ``topic()``), so ``p2c init`` and
  every component create the same set;
* the streams worker: which flows it can run, their templates, their agents and the joins' topics;
* the sinks: the targets a sink writes by default (``targets_of``) and the flow a record belongs to
  (``flow_of``: by the origin entity a write names, for a target several flows write);
* the sources: the flow of each change topic (``flow_of_source``), for their dead letters and counters;
* ``p2c status`` (per-flow figures) and ``p2c dlq --flow``.

Adding a flow: its schemas, its templates, one entry here, and, only if it joins, its join spec
(docs/adding-a-flow.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from p2c import topics
from p2c.topics import Topic

STREAMS_GROUP = "p2c-streams"  # the Faust app id is its consumer group
MAPPING = "p2c.streams.flow:MappingFlow"  # one mapping template, one agent: no join, no state


@dataclass(frozen=True)
class Flow:
    """One flow: what it reads and writes, and the code and data that make the writes."""

    name: str
    sources: tuple[Topic, ...]
    targets: tuple[Topic, ...]
    #: its mapping templates, by file stem (``streams/templates/<stem>.toml``)
    templates: tuple[str, ...]
    #: ``module:Class`` of its logic. MAPPING: one MappingFlow per template; otherwise a joining flow built
    #: from all its templates, in the order above (``streams.join.requester.JoiningFlow``)
    logic: str = MAPPING
    #: change topics of the dependencies it joins on (``streams/join/specs.py``)
    joins: tuple[Topic, ...] = ()
    #: change topics of the rows it writes, read back from the target (for other flows' joins): their
    #: sources count and dead-letter them under this flow
    echoes: tuple[Topic, ...] = ()

    @property
    def systems(self) -> tuple[str, str]:
        """(from, to): the systems of its source and target topics."""
        return topics.system_of(self.sources[0]), topics.system_of(self.targets[0])

    @property
    def direction(self) -> str:
        origin, destination = self.systems
        return f"{origin.upper()} → {destination.upper()}"

    @property
    def dead_letter(self) -> Topic:
        return topics.dead_letter(self.name)

    @property
    def sink_groups(self) -> tuple[str, ...]:
        return tuple(sink_group(t) for t in self.targets)


def sink_group(topic: Topic) -> str:
    """Consumer group of the sink that writes ``topic``: ``p2c-sink-<system>-<entity>``."""
    return f"p2c-sink-{topics.system_of(topic)}-{topics.entity_of(topic)}"


FLOWS = (
    Flow("accounts", (topics.CRM_ACCOUNTS,), (topics.ERP_CUSTOMERS,), ("accounts",)),
    Flow(
        "contacts",
        (topics.CRM_CONTACTS,),
        (topics.ERP_CUSTOMERS, topics.ERP_CONTACTPERSONS),
        ("contacts-customers", "contacts-contactpersons"),  # customers first: its routing rule wins
        logic="p2c.streams.contacts:ContactsFlow",
        joins=(topics.CRM_ACCOUNTS,),
    ),
    Flow(
        "quotes",
        (topics.CRM_QUOTES, topics.CRM_QUOTEDETAILS),
        (topics.ERP_QUOTATIONS,),
        ("quotes-header", "quotes-lines"),
        logic="p2c.streams.quotes:QuotesFlow",
        joins=(topics.CRM_ACCOUNTS, topics.CRM_CONTACTS, topics.CRM_PRODUCTS),
    ),
    Flow(
        "products",
        (topics.ERP_PRODUCTS,),
        (topics.CRM_PRODUCTS_TARGET,),
        ("products",),
        echoes=(topics.CRM_PRODUCTS,),  # the quotes join reads the CRM's products
    ),
)
NAMES = tuple(f.name for f in FLOWS)


def _unique(items: list[Topic]) -> tuple[Topic, ...]:
    return tuple(dict.fromkeys(items))


#: change topics (sources -> streams), including those read back and joined on (CRM products)
SOURCE_TOPICS = _unique([t for f in FLOWS for t in (*f.sources, *f.echoes, *f.joins)])
#: target topics (streams -> sinks)
TARGET_TOPICS = _unique([t for f in FLOWS for t in f.targets])
DEAD_LETTER_TOPICS = tuple(f.dead_letter for f in FLOWS)
ALL_TOPICS = (*SOURCE_TOPICS, *TARGET_TOPICS, *DEAD_LETTER_TOPICS, topics.POSITIONS, topics.METRICS)
WITH_SCHEMAS = tuple(t for t in ALL_TOPICS if t.has_schema)


def by_name(name: str) -> Flow:
    for flow in FLOWS:
        if flow.name == name:
            return flow
    raise KeyError(f"unknown flow {name!r}; flows: {', '.join(NAMES)}")


def topic(name: str) -> Topic:
    """The Topic called ``name``; KeyError names the known topics when there is none."""
    for t in ALL_TOPICS:
        if t.name == name:
            return t
    raise KeyError(f"unknown topic {name!r}; known: {', '.join(t.name for t in ALL_TOPICS)}")


def flow_of_source(topic_name: str) -> str:
    """The flow a change topic feeds, or whose writes it reads back."""
    for flow in FLOWS:
        if topic_name in {t.name for t in (*flow.sources, *flow.echoes)}:
            return flow.name
    raise KeyError(f"no flow reads {topic_name!r}; flows: {', '.join(NAMES)}")


def flow_of(target_topic: str, origin_entity: str | None) -> str:
    """The flow a write on ``target_topic`` belongs to: the one that reads its origin entity, else the first
    flow that writes the topic (a write whose origin names no entity)."""
    writers = [f for f in FLOWS if target_topic in {t.name for t in f.targets}]
    if not writers:
        raise KeyError(f"no flow writes {target_topic!r}; flows: {', '.join(NAMES)}")
    for flow in writers:
        if origin_entity in {topics.entity_of(t) for t in flow.sources}:
            return flow.name
    return writers[0].name


def targets_of(system: str) -> tuple[str, ...]:
    """The targets the flows write into ``system`` (``customers``, ...): what its sink writes by default."""
    return tuple(topics.entity_of(t) for t in TARGET_TOPICS if topics.system_of(t) == system)
