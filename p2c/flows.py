"""The four flows of ARCHITECTURE.md: which topics and consumer groups each one runs through.

``p2c status`` reads this table to turn topic offsets and component counters into per-flow figures.
"""

from __future__ import annotations

from dataclasses import dataclass

from p2c import topics
from p2c.topics import Topic

STREAMS_GROUP = "p2c-streams"  # the Faust app id is its consumer group


@dataclass(frozen=True)
class Flow:
    name: str
    direction: str
    sources: tuple[Topic, ...]
    targets: tuple[Topic, ...]
    sink_groups: tuple[str, ...]

    @property
    def dead_letter(self) -> Topic:
        return topics.dead_letter(self.name)


def sink_group(topic: Topic) -> str:
    """Consumer group of the sink that writes ``topic``: ``p2c-sink-<system>-<entity>``."""
    _, _, system, entity = topic.name.split(".")
    return f"p2c-sink-{system}-{entity}"


def _flow(name: str, direction: str, sources: tuple[Topic, ...], targets: tuple[Topic, ...]) -> Flow:
    return Flow(name, direction, sources, targets, tuple(sink_group(t) for t in targets))


FLOWS = (
    _flow("accounts", "CRM → ERP", (topics.CRM_ACCOUNTS,), (topics.ERP_CUSTOMERS,)),
    _flow("contacts", "CRM → ERP", (topics.CRM_CONTACTS,), (topics.ERP_CUSTOMERS, topics.ERP_CONTACTPERSONS)),
    _flow("quotes", "CRM → ERP", (topics.CRM_QUOTES, topics.CRM_QUOTEDETAILS), (topics.ERP_QUOTATIONS,)),
    _flow("products", "ERP → CRM", (topics.ERP_PRODUCTS,), (topics.CRM_PRODUCTS_TARGET,)),
)


def by_name(name: str) -> Flow:
    for flow in FLOWS:
        if flow.name == name:
            return flow
    raise KeyError(f"unknown flow {name!r}; flows: {', '.join(f.name for f in FLOWS)}")
