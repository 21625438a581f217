"""Contacts -> person customers (CustomersV3) or contact persons (CDSContactPersonsV2), routed and joined.

The logic is :class:`streams.contacts.ContactsFlow` over ``templates/contacts-customers.toml`` and
``templates/contacts-contactpersons.toml``; the agent is the shared joining agent, and the parent account's
number comes from the ``accounts`` provider (:mod:`streams.join`), which this flow starts when the app has
none yet.
"""

from __future__ import annotations

import faust

from p2c.serde import Codecs
from p2c.streams import loader
from p2c.streams.agents.base import PartitionsOf
from p2c.streams.contacts import ContactsFlow
from p2c.streams.join.agents import provider
from p2c.streams.join.requester import RequesterAgent
from p2c.streams.join.specs import ACCOUNTS
from p2c.streams.settings import StreamsSettings
from p2c.streams.template import Template

FLOW = "contacts"
TEMPLATES = ("contacts-customers", "contacts-contactpersons")
DEPENDS_ON = (ACCOUNTS.topic,)  # change topics the joins read: they must exist


def templates(settings: StreamsSettings) -> list[Template]:
    """The flow's templates (customers first: its routing rule wins), checked against the contracts."""
    return [loader.load(name, company=settings.company) for name in TEMPLATES]


def register(
    app: faust.App, codecs: Codecs, loaded: list[Template], partitions_of: PartitionsOf
) -> list[RequesterAgent]:
    customers, persons = loaded
    accounts = provider(app, ACCOUNTS, codecs, partitions_of(ACCOUNTS.topic))
    flow = ContactsFlow(customers, persons)
    return [RequesterAgent(app, flow, codecs, partitions_of(customers.source_topic), [accounts])]
