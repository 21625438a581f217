"""Topic names: the one place they are spelled.

Convention (also in the README)::

    p2c.src.<system>.<entity>   change events published by a source (Debezium-style envelope)
    p2c.tgt.<system>.<entity>   records for a sink to write into <system>
    p2c.dlq.<flow>              records that could not be processed, reason in the headers
    p2c.positions               where each source has got to (delta links, watermarks)
    p2c.metrics                 each component's counters, for `p2c status`
    p2c.dlq-state               what people did with each dead letter (control/state.py creates it, compacted)
    p2c.replays                 replay requests and the processes' answers (p2c.replays creates it)
    p2c.quotes.line-index       quote line id -> quote id, for line deletes the source could not place
    _schemas                    the schema registry's log

``src`` and ``tgt`` tell at a glance which side of the streams a topic is on. Which of them exist follows
from the flow declaration (``p2c.flows``: ``ALL_TOPICS``, ``topic()``). Values are Avro in the
Confluent wire format; subjects follow the topic-name strategy (``<topic>-value``); keys are UTF-8 strings.
"""

from __future__ import annotations

from dataclasses import dataclass

PREFIX = "p2c"
SCHEMAS_TOPIC = "_schemas"
POSITIONS_TOPIC = f"{PREFIX}.positions"
DEFAULT_PARTITIONS = 4


@dataclass(frozen=True)
class Topic:
    """A topic p2c owns, with the shape it is created with when missing."""

    name: str
    partitions: int = DEFAULT_PARTITIONS
    has_schema: bool = True
    #: compacted whatever ``compact_state_topics`` says (Faust's table changelogs: Faust always compacts them)
    changelog: bool = False

    @property
    def subject(self) -> str:
        """The schema-registry subject of this topic's values (topic-name strategy)."""
        return f"{self.name}-value"


def source(system: str, entity: str) -> Topic:
    return Topic(f"{PREFIX}.src.{system}.{entity}")


def target(system: str, entity: str) -> Topic:
    return Topic(f"{PREFIX}.tgt.{system}.{entity}")


def system_of(topic: Topic) -> str:
    """``crm`` or ``erp``: the system of a change or target topic (``p2c.src.crm.accounts`` -> ``crm``)."""
    return topic.name.split(".")[2]


def entity_of(topic: Topic) -> str:
    """The entity of a change or target topic (``p2c.tgt.erp.customers`` -> ``customers``)."""
    return topic.name.split(".")[3]


def dead_letter(flow: str) -> Topic:
    # Dead-lettered values keep their original bytes (the wire format names its schema id): no subject.
    return Topic(f"{PREFIX}.dlq.{flow}", has_schema=False)


# Change topics (sources → streams)
CRM_ACCOUNTS = source("crm", "accounts")
CRM_CONTACTS = source("crm", "contacts")
CRM_QUOTES = source("crm", "quotes")
CRM_QUOTEDETAILS = source("crm", "quotedetails")
CRM_PRODUCTS = source("crm", "products")
ERP_PRODUCTS = source("erp", "releasedproducts")

# Target topics (streams → sinks)
ERP_CUSTOMERS = target("erp", "customers")
ERP_CONTACTPERSONS = target("erp", "contactpersons")
ERP_QUOTATIONS = target("erp", "quotations")
CRM_PRODUCTS_TARGET = target("crm", "products")

POSITIONS = Topic(POSITIONS_TOPIC, partitions=1, has_schema=False)
METRICS = Topic(f"{PREFIX}.metrics", partitions=1, has_schema=False)
DLQ_STATE = Topic(f"{PREFIX}.dlq-state", partitions=1, has_schema=False)
REPLAYS = Topic(f"{PREFIX}.replays", partitions=1, has_schema=False)
#: quote line id -> its quote, kept by the streams (``streams.line_index``; Faust creates it, compacted)
QUOTE_LINE_INDEX = Topic(f"{PREFIX}.quotes.line-index", has_schema=False)
