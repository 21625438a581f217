"""The agents, one module a flow. Each module has ``templates(settings)`` and ``register(app, ...)``."""

from types import ModuleType

from streams.agents import accounts, contacts, products, quotes
from streams.agents.base import FlowAgent, PartitionsOf

FLOWS: dict[str, ModuleType] = {
    accounts.FLOW: accounts, contacts.FLOW: contacts, quotes.FLOW: quotes, products.FLOW: products,
}

__all__ = ["FLOWS", "FlowAgent", "PartitionsOf"]
