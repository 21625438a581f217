"""The agents, one module a flow. Each module has ``templates(settings)`` and ``register(app, ...)``."""

from types import ModuleType

from p2c.streams.agents import accounts, contacts, products, quotes
from p2c.streams.agents.base import FlowAgent, PartitionsOf

FLOWS: dict[str, ModuleType] = {
    accounts.FLOW: accounts,
    contacts.FLOW: contacts,
    quotes.FLOW: quotes,
    products.FLOW: products,
}

__all__ = ["FLOWS", "FlowAgent", "PartitionsOf"]
