"""Quotes + quote lines -> FinOps quotations (header and all current lines in one write), joined.

The logic is :class:`streams.quotes.QuotesFlow` over ``templates/quotes-header.toml`` and
``templates/quotes-lines.toml``; the agent is the shared joining agent. The customer's number comes from
the ``accounts`` or ``contacts`` provider, the products' numbers from the ``products`` provider (CRM
products), each started here when the app has none yet (:mod:`streams.join`).
"""

from __future__ import annotations

import faust

from p2c.serde import Codecs
from p2c.streams import loader
from p2c.streams.agents.base import PartitionsOf
from p2c.streams.join.agents import provider
from p2c.streams.join.requester import RequesterAgent
from p2c.streams.join.specs import ACCOUNTS, CONTACTS, PRODUCTS
from p2c.streams.quotes import QuotesFlow
from p2c.streams.settings import StreamsSettings
from p2c.streams.template import Template

FLOW = "quotes"
TEMPLATES = ("quotes-header", "quotes-lines")
DEPENDS_ON = (ACCOUNTS.topic, CONTACTS.topic, PRODUCTS.topic)  # change topics the joins read: they must exist


def templates(settings: StreamsSettings) -> list[Template]:
    """The flow's templates, checked against the contracts (the quotation's header and lines records)."""
    return [loader.load(name, company=settings.company) for name in TEMPLATES]


def register(
    app: faust.App, codecs: Codecs, loaded: list[Template], partitions_of: PartitionsOf
) -> list[RequesterAgent]:
    header, lines = loaded
    providers = [provider(app, spec, codecs, partitions_of(spec.topic)) for spec in (ACCOUNTS, CONTACTS, PRODUCTS)]
    return [RequesterAgent(app, QuotesFlow(header, lines), codecs, partitions_of(header.source_topic), providers)]
