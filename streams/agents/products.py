"""Released products -> Products: every sellable FinOps released product becomes a Sales product
(``templates/products.toml``).

The mapping is the template; the agent is the shared FlowAgent. Routing is the template's ``when``
(``Sellable = true``, derived by the ERP source): a product that is not sellable is counted as skipped, and
one that stops being sellable, or is deleted in the ERP, becomes a DELETE write for its productnumber (the CRM
sink retires the product). An unknown sales unit symbol is a RecordError naming ``SalesUnitSymbol`` and the
symbol: the event is dead-lettered to ``p2c.dlq.products``.
"""

from __future__ import annotations

import faust

from p2c.serde import Codecs
from p2c.streams import loader
from p2c.streams.agents.base import FlowAgent, PartitionsOf
from p2c.streams.flow import MappingFlow
from p2c.streams.settings import StreamsSettings
from p2c.streams.template import Template

FLOW = "products"


def templates(settings: StreamsSettings) -> list[Template]:
    """The flow's templates, loaded and checked against the contracts."""
    return [loader.load(FLOW, company=settings.company)]


def register(app: faust.App, codecs: Codecs, loaded: list[Template], partitions_of: PartitionsOf) -> list[FlowAgent]:
    return [FlowAgent(app, MappingFlow(t), codecs, partitions_of(t.source_topic)) for t in loaded]
