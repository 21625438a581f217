"""The CRM sandbox tables carry the fields of the Avro contracts, with the same names."""

from __future__ import annotations

import pytest

from p2c import schemas
from p2c.sandbox.crm import entities as C
from p2c.sandbox.odata.model import EntitySet

# Fields a source resolves from reference data; they are not columns of the Dataverse table.
RESOLVED = {
    "transactioncurrencyid_isocurrencycode",
    "parentcustomerid_type",
    "customerid_type",
    "uomid_name",
    "defaultuomid_name",
}


def row_fields(topic: str, path: list[int]) -> set[str]:
    node = schemas.load(topic)
    for i in path:
        node = node["fields"][i]["type"]
        if isinstance(node, list):
            node = next(t for t in node if t != "null")
        if node.get("type") == "array":
            node = node["items"]
    return {f["name"] for f in node["fields"]}


@pytest.mark.parametrize(
    ("topic", "entity"),
    [
        ("p2c.src.crm.accounts", C.ACCOUNTS),
        ("p2c.src.crm.contacts", C.CONTACTS),
        ("p2c.src.crm.products", C.PRODUCTS),
        ("p2c.src.crm.quotes", C.QUOTES),
        ("p2c.src.crm.quotedetails", C.QUOTEDETAILS),
    ],
)
def test_crm_tables_have_the_contract_fields(topic: str, entity: EntitySet) -> None:
    assert row_fields(topic, [1]) - RESOLVED <= set(entity.by_name)


# The ERP side is checked against the real FinOps metadata in test_real_metadata.py.
