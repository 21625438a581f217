"""The FinOps source against the ERP sandbox in-process: a full snapshot, then only differences (creates,
updates, deletes, sales stopped, sell dates), a page published again when it was not acknowledged."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from p2c.connectors.base.source import ChangeEvent, Checkpoint, Rejected, SourceItem
from p2c.connectors.finops.snapshot import SnapshotStore
from p2c.connectors.finops.source import STREAMS, FinOpsSource, sellable

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
        **fields,
    }


def key(entity_set: str, company: str, field: str, value: str) -> str:
    return f"{entity_set}(dataAreaId='{company}',{field}='{value}')"


def upsert(erp: sandboxes.InProcess, row: dict[str, Any]) -> None:
    client = erp.client()
    path = key("CDSReleasedDistinctProducts", row["dataAreaId"], "ProductNumber", row["ProductNumber"])
    if client.http.get(path, params={"cross-company": "true"}).status_code == 404:
        client.request("POST", "CDSReleasedDistinctProducts", json=row)
    else:
        client.request("PATCH", path, json={k: v for k, v in row.items() if k not in ("dataAreaId", "ProductNumber")})


def cycle(src: FinOpsSource) -> list[SourceItem]:
    return [item for stream in src.streams for item in src.cycle(stream)]


def events(items: list[SourceItem]) -> list[ChangeEvent]:
    return [i for i in items if isinstance(i, ChangeEvent)]


def source(erp: sandboxes.InProcess, tmp: Path, **kw: Any) -> FinOpsSource:
    return FinOpsSource(erp.client(), [PRODUCTS], SnapshotStore(tmp / "snapshot"), **kw)


def test_a_full_snapshot_then_creates_updates_deletes_and_sellability(tmp_path: Path) -> None:
    erp, _ = sandboxes.erp(tmp_path)
    for i in range(25):
        upsert(erp, product(f"P-{i:03d}"))
    upsert(erp, product("D-1", company="demf", CurrencyCode="EUR"))
    src = source(erp, tmp_path, page_size=10)
    items = cycle(src)
    loaded = events(items)
    assert len(loaded) == 26 and {e.value["op"] for e in loaded} == {"r"}
    first = next(e for e in loaded if e.key == "usmf|P-003")
    assert first.topic == "p2c.src.erp.releasedproducts" and first.flow == "products"
    after = first.value["after"]
    assert after["SalesPrice"] == Decimal("12.5000") and after["Sellable"] is True
    assert after["IsSalesProcessingStopped"] == "No" and after["SellStartDate"] is None
    assert first.value["source"]["version"] == first.value["source"]["ts_ms"] > 0
    assert isinstance(items[-1], Checkpoint) and "full snapshot" in items[-1].note

    assert events(cycle(src)) == []  # nothing changed: nothing sent
    client = erp.client()
    upsert(erp, product("P-007", ProductName="Renamed"))
    upsert(erp, product("P-100"))
    client.request("DELETE", key("CDSReleasedDistinctProducts", "usmf", "ProductNumber", "P-003"))
    stopped = {"IsSalesProcessingStopped": "Yes"}
    client.request("PATCH", key("ProductDefaultOrderSettings", "usmf", "ItemNumber", "P-005"), json=stopped)
    ended = {"SellEndDate": "2001-01-31T00:00:00Z"}
    client.request("PATCH", key("ReleasedProductsV2", "usmf", "ItemNumber", "P-006"), json=ended)
    changed = {e.key: e.value for e in events(cycle(src))}
    assert {k: v["op"] for k, v in changed.items()} == {
        "usmf|P-003": "d",
        "usmf|P-005": "u",
        "usmf|P-006": "u",
        "usmf|P-007": "u",
        "usmf|P-100": "c",
    }
    assert changed["usmf|P-003"]["after"] is None
    assert changed["usmf|P-003"]["before"]["ProductNumber"] == "P-003"
    assert changed["usmf|P-005"]["after"]["Sellable"] is False
    assert changed["usmf|P-006"]["after"]["Sellable"] is False
    assert changed["usmf|P-006"]["after"]["SellEndDate"] == datetime(2001, 1, 31, tzinfo=UTC)
    assert changed["usmf|P-007"]["after"]["ProductName"] == "Renamed"
    assert events(cycle(src)) == []


def test_a_page_the_broker_did_not_acknowledge_is_published_again(tmp_path: Path) -> None:
    erp, _ = sandboxes.erp(tmp_path)
    for i in range(12):
        upsert(erp, product(f"P-{i:03d}"))
    src = source(erp, tmp_path, page_size=5)
    sent: list[str] = []
    stream: Iterator[SourceItem] = src.cycle(PRODUCTS)
    for item in stream:  # the runner dies at the second checkpoint: pages 1 applied, page 2 not
        if isinstance(item, Checkpoint) and len(sent) == 10:
            break
        if isinstance(item, ChangeEvent):
            sent.append(item.key)
    src.store.close()
    again = source(erp, tmp_path, page_size=5)
    resent = [e.key for e in events(cycle(again))]
    assert resent == sorted(f"usmf|P-{i:03d}" for i in range(5, 12))
    assert events(cycle(again)) == []


def test_one_company_only_and_a_row_that_does_not_convert_is_rejected_once(tmp_path: Path) -> None:
    erp, store = sandboxes.erp(tmp_path)
    upsert(erp, product("P-1"))
    upsert(erp, product("D-1", company="demf"))
    store.conn.execute("UPDATE cdsreleaseddistinctproducts SET SalesPrice = 1e30 WHERE ProductNumber = 'P-1'")
    src = source(erp, tmp_path, company="usmf")
    items = cycle(src)
    rejected = [i for i in items if isinstance(i, Rejected)]
    assert [r.key for r in rejected] == ["usmf|P-1"] and rejected[0].field == "SalesPrice"
    assert events(items) == []
    assert cycle(src) == []


@pytest.mark.parametrize(
    ("stopped", "start", "end", "expected"),
    [
        ("No", None, None, True),
        (None, None, None, True),
        ("Yes", None, None, False),
        ("No", datetime(2030, 1, 1, tzinfo=UTC), None, False),
        ("No", datetime(2020, 1, 1, tzinfo=UTC), datetime(2025, 6, 1, tzinfo=UTC), True),
        ("No", None, datetime(2025, 5, 31, tzinfo=UTC), False),
    ],
)
def test_sellable_means_not_stopped_and_within_the_sell_dates(
    stopped: str | None, start: datetime | None, end: datetime | None, expected: bool
) -> None:
    assert sellable(stopped, start, end, date(2025, 6, 1)) is expected
