"""Sample change events in the Debezium envelope, for the benchmark, the tests and demos.

Values are plain dicts as the Avro serializer takes them (``p2c.serde``): encode with the change topic's codec;
key them with :func:`event_key`, as the Dataverse source does.
"""

from __future__ import annotations

import time
import uuid
from decimal import Decimal
from typing import Any

from p2c.connectors.dataverse.streams import STREAMS

COUNTRIES = ("United States", "USA", "Deutschland", "United Kingdom", "", None, "France", "Denmark")


def account_row(n: int, **overrides: Any) -> dict[str, Any]:
    """The ``n``-th sample account; its ``accountid`` is stable for a given ``n``."""
    row: dict[str, Any] = {
        "accountid": str(uuid.UUID(int=n + 1)),
        "accountnumber": f"ACC-{n:05d}-SAMPLE",
        "name": f"Sample Company {n}",
        "telephone1": f"+1 555 {n:07d}",
        "emailaddress1": f"orders{n}@example.com",
        "creditlimit": Decimal("10000.0000") + n,
        "numberofemployees": 10 + n % 500,
        "address1_line1": f"{n} Main Street",
        "address1_city": "Seattle",
        "address1_postalcode": "98052",
        "address1_country": COUNTRIES[n % len(COUNTRIES)],
        "address2_country": COUNTRIES[(n + 3) % len(COUNTRIES)],
        "transactioncurrencyid_isocurrencycode": "usd",
        "versionnumber": 1000 + n,
    }
    row.update(overrides)
    return row


def change(
    op: str, row: dict[str, Any], version: int, *, entity: str = "accounts", system: str = "crm"
) -> dict[str, Any]:
    """A change event: ``op`` c/u/r carry ``row`` as ``after``; ``d`` carries it as ``before``."""
    now = int(time.time() * 1000)
    return {
        "op": op,
        "before": row if op == "d" else None,
        "after": None if op == "d" else row,
        "source": {
            "connector": "samples",
            "system": system,
            "entity": entity,
            "company": None,
            "position": None,
            "ts_ms": now,
            "version": version,
        },
        "ts_ms": now,
    }


def event_key(entity: str, row: dict[str, Any]) -> bytes:
    """The key the Dataverse source gives a change of ``row`` of ``entity`` (a quote line: its quote's)."""
    stream = STREAMS[entity]
    return str(row[stream.event_key or stream.key]).encode()


def account_delete(n: int, version: int) -> dict[str, Any]:
    """A delete as the Dataverse source publishes it: ``before`` carries only the ``accountid``."""
    return change("d", {"accountid": str(uuid.UUID(int=n + 1))}, version)


def contact_row(number: str, **fields: Any) -> dict[str, Any]:
    """A contact numbered ``number``, a new ``contactid``; a contact person of an account with
    ``msdynce_isactivecustomer=False, _parentcustomerid_value=<accountid>, parentcustomerid_type="account"``."""
    return {
        "contactid": str(uuid.uuid4()),
        "msdynce_contactnumber": number,
        "firstname": "Ada",
        "lastname": "Lovelace",
    } | fields


def product_row(number: str, external: bool = True) -> dict[str, Any]:
    """A Sales product as the ERP's products come back from the CRM (maintained externally)."""
    return {
        "productid": str(uuid.uuid4()),
        "productnumber": number,
        "name": number,
        "msdynce_ismaintainedexternally": external,
    }


def quote_row(number: str, customer: dict[str, Any]) -> dict[str, Any]:
    """An active quote of the account row ``customer``."""
    return {
        "quoteid": str(uuid.uuid4()),
        "quotenumber": number,
        "name": "Big deal",
        "statecode": 1,
        "_customerid_value": customer["accountid"],
        "customerid_type": "account",
        "shipto_country": None,
        "transactioncurrencyid_isocurrencycode": "usd",
    }


def line_row(quote: dict[str, Any], seq: int, product: dict[str, Any], quantity: str = "2") -> dict[str, Any]:
    """Line ``seq`` of the quote row ``quote``: ``quantity`` of the product row ``product``."""
    return {
        "quotedetailid": str(uuid.uuid4()),
        "_quoteid_value": quote["quoteid"],
        "sequencenumber": seq,
        "_productid_value": product["productid"],
        "quantity": Decimal(quantity).quantize(Decimal("0.00001")),
        "uomid_name": "Each",
        "priceperunit": Decimal("10.0000"),
    }
