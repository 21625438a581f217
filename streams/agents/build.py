"""A declared flow's templates and agents, from its declaration (``p2c.flows.Flow``) alone.

A mapping flow (``logic = MAPPING``) gets one :class:`FlowAgent` per template. Any other flow names the
class of its pure logic (``module:Class``), built from its templates in the declared order, and gets one
:class:`RequesterAgent` with a provider for each dependency it joins on (one provider per dependency
serves every flow of the app).
"""

from __future__ import annotations

from typing import Protocol

import faust

from p2c import topics
from p2c.flows import Flow
from p2c.serde import Codecs
from p2c.streams import loader
from p2c.streams.agents.base import FlowAgent, PartitionsOf
from p2c.streams.counters import FlowCounters
from p2c.streams.flow import MappingFlow
from p2c.streams.join.agents import provider
from p2c.streams.join.requester import RequesterAgent
from p2c.streams.join.specs import spec_for
from p2c.streams.line_index import LineIndexAgents
from p2c.streams.loader import logic_of
from p2c.streams.settings import StreamsSettings
from p2c.streams.template import Template


class CountedAgent(Protocol):
    """A flow's agent, as the worker sees it: its counters (FlowAgent, RequesterAgent)."""

    counters: FlowCounters


def load_templates(flow: Flow, settings: StreamsSettings) -> list[Template]:
    """The flow's templates, each checked against the contracts and against the declaration."""
    return [loader.load_declared(flow, name, company=settings.company) for name in flow.templates]


def register(
    app: faust.App, flow: Flow, codecs: Codecs, loaded: list[Template], partitions_of: PartitionsOf
) -> list[CountedAgent]:
    """Register the flow's agents (and the join providers it needs) on ``app``."""
    logic = logic_of(flow)
    if logic is MappingFlow:
        return [FlowAgent(app, MappingFlow(t), codecs, partitions_of(t.source_topic)) for t in loaded]
    providers = [provider(app, spec_for(t.name), codecs, partitions_of(t.name)) for t in flow.joins]
    if topics.CRM_QUOTEDETAILS in flow.sources:  # line deletes the source could not place (streams.line_index)
        LineIndexAgents(app, codecs, partitions_of(topics.CRM_QUOTEDETAILS.name), flow.name)
    return [RequesterAgent(app, logic(*loaded), codecs, partitions_of(flow.sources[0].name), providers)]
