"""The agents of the declared flows (``p2c.flows``): the shared mapping agent and the joining agent."""

from p2c.streams.agents.base import FlowAgent, PartitionsOf
from p2c.streams.agents.build import CountedAgent, load_templates, register
from p2c.streams.loader import logic_of

__all__ = ["CountedAgent", "FlowAgent", "PartitionsOf", "load_templates", "logic_of", "register"]
