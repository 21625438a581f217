"""The dependencies the flows join on, as data: which change topic, which key, which fields an answer holds.

``accounts`` gives contacts (the parent account) and quotes (the customer) the account number;
``contacts`` gives quotes whose customer is a contact its contact number and whether it is an active
customer; ``products`` (the CRM's own products, ``p2c.src.crm.products``) gives quote lines the product
number and whether the product is externally maintained (comes from FinOps, so FinOps knows it).
"""

from __future__ import annotations

from p2c.errors import ConfigurationError
from p2c.streams.join.core import DependencySpec
from p2c.topics import CRM_ACCOUNTS, CRM_CONTACTS, CRM_PRODUCTS

ACCOUNTS = DependencySpec("accounts", CRM_ACCOUNTS.name, "accountid", {"number": "accountnumber"})
CONTACTS = DependencySpec(
    "contacts",
    CRM_CONTACTS.name,
    "contactid",
    {"number": "msdynce_contactnumber", "active": "msdynce_isactivecustomer"},
)
PRODUCTS = DependencySpec(
    "products",
    CRM_PRODUCTS.name,
    "productid",
    {"number": "productnumber", "external": "msdynce_ismaintainedexternally"},
)

SPECS = {spec.topic: spec for spec in (ACCOUNTS, CONTACTS, PRODUCTS)}


def spec_for(topic: str) -> DependencySpec:
    """The dependency whose change topic is ``topic`` (a flow declares its joins by change topic)."""
    if topic not in SPECS:
        raise ConfigurationError(f"no join spec for {topic!r}; known: {', '.join(SPECS)}")
    return SPECS[topic]
