"""CRM writes: versions, generated numbers, binds, validation, and the P2C plug-in behaviour (no HTTP)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from p2c.sandbox.crm import entities as E
from p2c.sandbox.crm.app import open_store
from p2c.sandbox.crm.refdata import ref_id
from p2c.sandbox.crm.store import CrmStore, application_user_id
from p2c.sandbox.odata.errors import ODataError

USER = application_user_id("p2c")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CrmStore]:
    s = open_store(tmp_path)
    yield s
    s.close()


def test_application_user_is_stable() -> None:
    assert USER == "2fc95d15-aa7a-5b27-9e0c-8a133a808630"
    assert application_user_id("other") != USER


def test_reference_data_is_there_once(tmp_path: Path) -> None:
    for _ in range(2):
        s = open_store(tmp_path)
        names = {r[0] for r in s.conn.execute("SELECT name FROM uoms")}
        levels = dict(s.conn.execute("SELECT name, _transactioncurrencyid_value FROM pricelevels").fetchall())
        count = s.conn.execute("SELECT COUNT(*) FROM transactioncurrencies").fetchone()[0]
        s.close()
    assert {"Primary Unit", "Each", "Piece"} <= names
    assert levels["standard"] == ref_id("currency", "USD") and levels["europe"] == ref_id("currency", "EUR")
    assert count == 7


def test_versions_grow_across_tables_and_numbers_are_generated(store: CrmStore) -> None:
    a = store.create(E.ACCOUNTS, {"name": "A"}, USER)
    c = store.create(E.CONTACTS, {"lastname": "C"}, USER)
    a2 = store.upsert(E.ACCOUNTS, a["accountid"], {"name": "A2"}, USER)[1]
    assert a["versionnumber"] < c["versionnumber"] < a2["versionnumber"]
    assert re.fullmatch(r"ACC-\d{5}-[A-Z]{6}", a["accountnumber"])
    assert re.fullmatch(r"CON-\d{5}-[A-Z]{6}", c["msdynce_contactnumber"])
    assert a2["createdon"] == a["createdon"] and a2["_modifiedby_value"] == USER


def test_alternate_key_is_unique(store: CrmStore) -> None:
    store.create(E.PRODUCTS, {"productnumber": "P-1", "name": "One"}, USER)
    with pytest.raises(ODataError) as err:
        store.create(E.PRODUCTS, {"productnumber": "P-1", "name": "Again"}, USER)
    assert err.value.status == 412
    with pytest.raises(ODataError, match="productnumber"):
        store.create(E.PRODUCTS, {"name": "No number"}, USER)


def test_validation_names_the_field(store: CrmStore) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"name": 5}, "name"),
        ({"numberofemployees": 1.5}, "numberofemployees"),
        ({"creditlimit": "abc"}, "creditlimit"),
        ({"_primarycontactid_value": "x"}, "primarycontactid@odata.bind"),
        ({"primarycontactid@odata.bind": "/accounts(00000000-0000-0000-0000-000000000001)"}, "primarycontactid"),
        ({"primarycontactid@odata.bind": "/contacts(00000000-0000-0000-0000-000000000001)"}, "primarycontactid"),
        ({"bogus@odata.bind": "/contacts(00000000-0000-0000-0000-000000000001)"}, "bogus"),
    ]
    for body, text in cases:
        with pytest.raises(ODataError, match=re.escape(text)) as err:
            store.create(E.ACCOUNTS, body, USER)
        assert err.value.status == 400


def test_quote_plugins(store: CrmStore) -> None:
    contact = store.create(E.CONTACTS, {"lastname": "Buyer"}, USER)
    quote = store.create(
        E.QUOTES, {"name": "Q", "customerid_contact@odata.bind": f"/contacts({contact['contactid']})"}, USER
    )
    assert store.get(E.CONTACTS, contact["contactid"])["msdynce_isactivecustomer"] == 1  # type: ignore[index]
    ext = store.create(E.PRODUCTS, {"productnumber": "P-E", "msdynce_ismaintainedexternally": True}, USER)
    assert (ext["statecode"], ext["statuscode"]) == (2, 0)  # a standard Sales organization creates it in Draft
    bind = f"/quotes({quote['quoteid']})"
    line_body = {"quoteid@odata.bind": bind, "productid@odata.bind": f"/products({ext['productid']})", "quantity": 1}
    with pytest.raises(ODataError, match="P-E is in Draft: only an active"):
        store.create(E.QUOTEDETAILS, line_body, USER)
    store.publish_product(ext["productid"], USER)
    line = store.create(
        E.QUOTEDETAILS,
        {
            "quoteid@odata.bind": bind,
            "productid@odata.bind": f"/products({ext['productid']})",
            "quantity": 3,
            "priceperunit": 10,
            "manualdiscountamount": 5,
        },
        USER,
    )
    assert (line["sequencenumber"], line["baseamount"], line["extendedamount"]) == (1, 30.0, 25.0)
    q = store.get(E.QUOTES, quote["quoteid"])
    assert q["totalamount"] == 25.0 and q["msdynce_hasexternallymaintainedproductsonly"] == 1  # type: ignore[index]
    write_in = store.create(
        E.QUOTEDETAILS, {"quoteid@odata.bind": bind, "productdescription": "x", "quantity": 1}, USER
    )
    assert write_in["sequencenumber"] == 2 and write_in["isproductoverridden"] == 1
    assert store.get(E.QUOTES, quote["quoteid"])["msdynce_hasexternallymaintainedproductsonly"] == 0  # type: ignore[index]
    first = store.get(E.QUOTEDETAILS, line["quotedetailid"])
    assert first["msdynce_quotehasexternalmaintainedproductsonly"] == 0  # type: ignore[index]
    assert first["versionnumber"] > line["versionnumber"]  # type: ignore[index]


def test_delete_clears_lookups_to_the_deleted_row(store: CrmStore) -> None:
    account = store.create(E.ACCOUNTS, {"name": "Parent"}, USER)
    child = store.create(
        E.CONTACTS, {"lastname": "Child", "parentcustomerid@odata.bind": f"/accounts({account['accountid']})"}, USER
    )
    store.delete(E.ACCOUNTS, account["accountid"], USER)
    after = store.get(E.CONTACTS, child["contactid"])
    assert after["_parentcustomerid_value"] is None and after["versionnumber"] > child["versionnumber"]  # type: ignore[index]
