"""The FinOps source against the ERP sandbox in-process: full load, keyset paging, overlap without resends,
changes made between and during pages, position round trip."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from p2c.connectors.base.source import ChangeEvent, Checkpoint, Rejected, SourceItem
from p2c.connectors.finops.source import STREAMS, FinOpsSource

from . import sandboxes

pytestmark = pytest.mark.timeout(20)

PRODUCTS = STREAMS["CDSReleasedDistinctProducts"]


def product(number: str, company: str = "usmf", **fields: Any) -> dict[str, Any]:
    return {
        "dataAreaId": company,
        "ProductNumber": number,
        "ProductName": f"Product {number}",
        "SalesUnitSymbol": "ea",
        "SalesPrice": 12.5,
        "CurrencyCode": "USD",
        "IsSellable": True,
        **fields,
    }


def upsert(erp: sandboxes.InProcess, row: dict[str, Any]) -> None:
    client = erp.client()
    key = f"CDSReleasedDistinctProducts(dataAreaId='{row['dataAreaId']}',ProductNumber='{row['ProductNumber']}')"
    if client.http.get(key, params={"cross-company": "true"}).status_code == 404:
        client.request("POST", "CDSReleasedDistinctProducts", json=row)
    else:
        client.request("PATCH", key, json={k: v for k, v in row.items() if k not in ("dataAreaId", "ProductNumber")})


def one_poll(src: FinOpsSource) -> list[SourceItem]:
    """Items of one poll cycle of every stream."""
    return [item for stream in src.streams for item in src.poll(stream)]


def events(items: list[SourceItem]) -> list[ChangeEvent]:
    return [i for i in items if isinstance(i, ChangeEvent)]


def source(erp: sandboxes.InProcess, position: dict[str, Any] | None = None, **kw: Any) -> FinOpsSource:
    src = FinOpsSource(erp.client(), [PRODUCTS], **kw)
    src.state = {PRODUCTS.entity_set: dict((position or {}).get("entities", {}).get(PRODUCTS.entity_set, {}))}
    return src


def test_full_load_pages_by_keyset_then_only_changes(tmp_path: Path) -> None:
    erp, _ = sandboxes.erp(tmp_path)
    for i in range(25):
        upsert(erp, product(f"P-{i:03d}"))
    upsert(erp, product("D-1", company="demf", CurrencyCode="EUR"))
    src = source(erp, page_size=10)
    items = one_poll(src)
    loaded = events(items)
    assert len(loaded) == 26 and {e.value["op"] for e in loaded} == {"r"}
    assert {e.key for e in loaded} >= {"usmf|P-000", "usmf|P-024", "demf|D-1"}
    first = next(e for e in loaded if e.key == "usmf|P-003")
    assert first.topic == "p2c.src.erp.releasedproducts" and first.flow == "products"
    assert first.value["after"]["SalesPrice"] == __import__("decimal").Decimal("12.5000")
    assert first.value["source"]["version"] == first.value["source"]["ts_ms"] > 0
    assert first.value["source"]["company"] == "usmf" and first.value["source"]["entity"] == PRODUCTS.entity_set
    assert isinstance(items[-1], Checkpoint) and "full load" in items[-1].note
    assert src.state[PRODUCTS.entity_set]["loaded"] is True

    assert events(one_poll(src)) == []  # the overlap re-reads rows; none is sent again
    upsert(erp, product("P-007", ProductName="Renamed"))
    upsert(erp, product("P-100"))
    changed = events(one_poll(src))
    assert [(e.key, e.value["op"]) for e in changed] == [("usmf|P-007", "u"), ("usmf|P-100", "u")]
    assert changed[0].value["after"]["ProductName"] == "Renamed"


def test_restart_from_a_checkpoint_sends_nothing_twice_and_misses_nothing(tmp_path: Path) -> None:
    erp, _ = sandboxes.erp(tmp_path)
    for i in range(12):
        upsert(erp, product(f"P-{i:03d}"))
    src = source(erp, page_size=5)
    items = one_poll(src)
    position = [i for i in items if isinstance(i, Checkpoint)][-1].position
    upsert(erp, product("P-003", ProductName="while stopped"))
    again = source(erp, position, page_size=5)
    assert [(e.key, e.value["after"]["ProductName"]) for e in events(one_poll(again))] == [
        ("usmf|P-003", "while stopped")
    ]


def test_a_row_modified_between_pages_is_not_lost(tmp_path: Path) -> None:
    """With $skip paging, a row moving to the end would shift an unchanged row out of the next page."""
    erp, _ = sandboxes.erp(tmp_path)
    for i in range(10):
        upsert(erp, product(f"P-{i:03d}"))
    src = source(erp, page_size=4)
    sent: list[str] = []
    counter = itertools.count()
    for item in src.poll(PRODUCTS):
        if isinstance(item, ChangeEvent):
            sent.append(item.key)
            if next(counter) == 1:  # while the first page is being read
                upsert(erp, product("P-000", ProductName="moved to the end"))
    assert sorted(set(sent)) == sorted(f"usmf|P-{i:03d}" for i in range(10))
    assert sent.count("usmf|P-000") == 2  # its first version, then the new one


def test_one_company_only_and_a_row_that_does_not_convert_is_rejected(tmp_path: Path) -> None:
    erp, store = sandboxes.erp(tmp_path)
    upsert(erp, product("P-1"))
    upsert(erp, product("D-1", company="demf"))
    store.conn.execute("UPDATE cdsreleaseddistinctproducts SET SalesPrice = 1e30 WHERE ProductNumber = 'P-1'")
    store.conn.commit()
    src = source(erp, company="usmf")
    items = one_poll(src)
    rejected = [i for i in items if isinstance(i, Rejected)]
    assert [r.key for r in rejected] == ["usmf|P-1"] and rejected[0].field == "SalesPrice"
    assert events(items) == []
    assert events(one_poll(src)) == [] and [i for i in one_poll(src) if isinstance(i, Rejected)] == []
