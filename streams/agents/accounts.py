"""Accounts -> Customers: every CRM account becomes a FinOps CustomersV3 customer (``templates/accounts.toml``).

The mapping is the template; the agent is the shared FlowAgent. A deleted account becomes a DELETE write
with ``OnHoldStatus = All`` (the sink blocks the customer in FinOps, it does not delete it), found through
the known-key table because a delete event carries only the ``accountid``.
"""

from __future__ import annotations

import faust

from p2c.serde import Codecs
from p2c.streams import loader
from p2c.streams.agents.base import FlowAgent, PartitionsOf
from p2c.streams.flow import MappingFlow
from p2c.streams.settings import StreamsSettings
from p2c.streams.template import Template

FLOW = "accounts"


def templates(settings: StreamsSettings) -> list[Template]:
    """The flow's templates, loaded and checked against the contracts."""
    return [loader.load(FLOW, company=settings.company)]


def register(app: faust.App, codecs: Codecs, loaded: list[Template], partitions_of: PartitionsOf) -> list[FlowAgent]:
    return [FlowAgent(app, MappingFlow(t), codecs, partitions_of(t.source_topic)) for t in loaded]
